"""Streamlit-side helpers of the app (the engine, mmcrnet/, never imports Streamlit):
figures.py builds plotly figures from engine results (no Streamlit), state.py holds the
per-server model and the per-session case."""

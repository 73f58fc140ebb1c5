"""The hospital's systems: DICOM results for the PACS (:mod:`~mmcrnet.interop.dicom_export`),
sent by DICOMweb STOW-RS (:mod:`~mmcrnet.interop.pacs`), and the clinical form from an HL7 FHIR
R4 mCODE Bundle (:mod:`~mmcrnet.interop.fhir_import`)."""

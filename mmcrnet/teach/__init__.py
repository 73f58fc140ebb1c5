"""Teaching with phantom cases whose truth is known: the truth of a case in words
(:mod:`truth`), what the truth says its probabilities are (:mod:`observer`), the model's reasons
beside the truth's (:mod:`agreement`), a case opened with all of it (:mod:`case`), the gallery
(:mod:`gallery`), the quiz (:mod:`quiz`) and "what if" (:mod:`whatif`)."""

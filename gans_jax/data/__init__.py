"""Input data as host numpy arrays: 2-D toy mixtures, scikit-learn digits, image folders."""

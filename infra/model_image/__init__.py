"""The model-serving image: built from `serving/`, tagged by content, deployed by digest."""

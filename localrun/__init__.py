"""Local drivers for the model server: run it as the image does, the demo and the benchmark."""

"""Training: one epoch (`loop`), prediction with TTA (`predict`), one fold (`fold`), a run (`run`)."""

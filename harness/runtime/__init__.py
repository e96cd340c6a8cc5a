"""What training and prediction both run on: the device, the precision (and the CPU bf16 guard),
the one Accelerator, the data loaders, and the step that turns a batch into the model's input."""

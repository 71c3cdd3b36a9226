"""Infrastructure that knows no stage and no file format. One module per concept:

    errors             the project's exceptions (one line for the user, exit status 2 for bad input)
    cli                command-line plumbing of the tools: parser, one-line errors, skipped inputs
    atomic             atomic writes: a crash never leaves half a file
    checkpoint         checkpoints saved atomically and the weights export
    trainer            the training loop any TrainableModel runs in
    trainable          the TrainableModel protocol: what the trainer needs of a model
    training_setup     before the first step: learning-rate schedule, optimiser, seeds, determinism
    run_clock          how long a run is: its steps, an estimate of its time, the CPU note
    resume             what a resumed run carries over: the best value, the log's metric names, the lr plan
    iteration_counter  where training is (epoch, step) and whether it is time to log, validate or save
    train_logger       training logs on rank 0: losses and validation metrics (CSV), tensorboard
    distributed        torchrun process groups and reductions
    device             device and precision choice
    registry           name -> class registries for --model and --dataset_mode, imported lazily
    option_values      helpers on parsed option values (parsers, the models' checks, the trainer)
    conventions        names and constants every layer shares: directions, VENC scale, mask threshold
    intensity          magnitude intensity scale
    tissue             the tissue foreground of a magnitude image
    plotting           figures without a display: headless backend, velocity colour map and display range
"""

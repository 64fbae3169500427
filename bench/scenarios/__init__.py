"""The scenarios of issue 11, in order: (id, module in this package). Each module exposes ID,
TITLE and run(ctx) (see bench/benchlib.py for what run returns)."""
SCENARIOS = [
    ("a", "a_hot_path"),
    ("b", "b_end_to_end"),
    ("c", "c_training_loop"),
    ("d", "d_outage"),
    ("e", "e_artifacts"),
    ("f", "f_history"),
    ("g", "g_scale_out"),
    ("h", "h_local_store"),
]

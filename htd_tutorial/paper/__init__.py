"""The paper's commands: reproduce its Table 2 (``reproduce``) and run the HTD ablation (``ablation``).

They run the library (``experiments``) over the paper's grid, write results JSON and figures, and are
what ``python -m htd_tutorial reproduce|ablation`` calls. They import the library and ``plots``,
never ``course``.
"""

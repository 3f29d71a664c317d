"""AnalogNAS (Benmeziane et al. 2023) with the emulator in the loop: `chipsim nas`.

`space` is the search space, `network` a candidate in PyTorch (needs the `nas` extra),
`evaluate` trains and measures one candidate, `surrogate` and `search` find new ones, `study`
runs it all with the candidates as Dask tasks through the sweep store.
"""

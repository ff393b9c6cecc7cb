# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproducibility
#
# Everything on these pages was produced by executing the chapters with papermill and then
# rendering the executed notebooks with Jupyter Book. This page is executed last and reports
# what the build actually did: the profile and parameters of each chapter, how long each took,
# the library versions and the machine.
#
# ## Profiles
#
# | profile | where | budget |
# |---|---|---|
# | `smoke` | CI and the test suite | the whole book well under 10 minutes on 2 CPU cores |
# | `default` | a reader's laptop (`make book`) | the whole book under 45 minutes on 2 CPU cores, real data |
# | `full` | one GPU | the papers' configurations |
#
# The parameters cell of each chapter holds `default`; `notebooks/profiles.yaml` holds the
# overrides of the other profiles.
#
# ## Exact commands
#
# ```bash
# make book                                   # default profile, every chapter, HTML book
# make test                                   # tests + smoke profile + strict book build
# .venv/bin/diffad run 01 --profile default -p epochs 3000   # one chapter, own parameters
# .venv/bin/diffad params 01                  # list a chapter's parameters and profiles
# # plain papermill, after converting the text notebook:
# .venv/bin/jupytext --set-kernel python3 --to ipynb notebooks/01_sine_mlp.py
# .venv/bin/papermill notebooks/01_sine_mlp.ipynb out.ipynb -p epochs 3000 -p window 64
# ```

# %% tags=["parameters"]
profile = "default"  # profile of this build (set by `diffad book`)

# %%
import json
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from diffad_lib.report import environment_info, glue

runs = []
for path in sorted(Path("../book/chapters").glob("*.run.json")):
    record = json.loads(path.read_text())
    if record["chapter"] == "reproducibility":
        continue
    runs.append({"chapter": record["chapter"], "profile": record["profile"], "seconds": record["seconds"],
                 "finished": record["finished"],
                 "parameters": ", ".join(f"{k}={v}" for k, v in record["parameters"].items() if k != "profile")
                 or "(defaults)"})
runs = pd.DataFrame(runs)
for _, row in runs.iterrows():
    glue(f"seconds_{row['chapter']}", f"{row['seconds']:.0f}")
runs

# %% [markdown]
# ## Library versions and hardware

# %%
info = environment_info()
display(Markdown("\n".join(f"- **{k}**: {v}" for k, v in info.items())))

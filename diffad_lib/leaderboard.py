"""The detection leaderboard: every registered series method on every dataset, one protocol.

``diffad leaderboard --profile smoke|default|full`` (or :func:`run_leaderboard`) fits each method
of the registry that scores series on the series of SMAP, MSL, SMD (real spacecraft and server
telemetry), NAB and the UCR Anomaly Archive, and writes ``results/leaderboard_<profile>.json``.

The protocol, the same for every method
---------------------------------------
* **Data each method sees.** Only the measured channels: the telemetry channel of SMAP/MSL (the
  one-hot command channels are given to *no* method, so no method can win by what it is shown),
  every SMD metric, the single NAB/UCR value. Series are used as published (no rescaling here;
  each method scales on its own training data).
* **Fitting.** On the training split (SMAP/MSL/SMD), NAB's probationary period (the first 15 %,
  which NAB does not score), or the UCR training prefix: normal data only.
* **Scores.** Each method's raw per-step score (diffusion detectors with their own smoothing
  switched off), then the *same* smoothing for everyone: a Hann kernel of 15 steps.
* **Threshold.** Three sigma on the smoothed scores of the held-out last 20 % of the fitting data
  (every method holds the same fifth out); test labels are never used for fitting anything.
* **Metrics.** VUS-PR, PR-AUC and ROC-AUC (threshold-free), point-wise F1 and point-adjusted F1
  at that threshold (:func:`diffad_lib.metrics.evaluate`); means over the series of a dataset.

Profiles (:data:`PROFILES`) choose which series (by name, or spread over each sorted list), how
long, and the diffusion budgets; the ``default`` profile (39 named series) takes half an hour to an
hour on a 2-core CPU, by machine (``meta`` records the time and the processor); ``full`` runs
everything on a GPU.
``dev`` scores other series of the same archives (none that ``default`` reports): the detectors'
defaults are compared there, so the reported numbers are not tuned on themselves.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from diffad_lib import metrics
from diffad_lib._validation import check_choice, check_int
from diffad_lib.data.telemetry import Entity
from diffad_lib.utils import spread

__all__ = ["DATASETS", "METRICS", "PROFILES", "fitting_flag_rate", "label_novelty", "leaderboard_table",
           "load_problems", "novelty_share", "parse_overrides", "run_leaderboard", "score_problem"]

DATASETS: tuple[str, ...] = ("SMAP", "MSL", "SMD", "NAB", "UCR")
METRICS: tuple[str, ...] = ("vus_pr", "pr_auc", "roc_auc", "f1", "f1_pa")
SMOOTHING = ("hann", 15)  # the one smoothing kernel applied to every method's scores
VAL_FRACTION = 0.2  # the held-out fifth of the fitting data every threshold comes from

_SMALL_DIFFWAVE = {"residual_channels": 16, "n_layers": 4, "s4_state": 16, "dilation_cycle": 4}

#: Per profile: series per dataset (0: all), longest training / test split kept (0: whole), and
#: parameters per method (registry defaults otherwise).
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "n_series": 1, "max_train": 600, "max_test": 800,
        "params": {
            "diffusion": {"max_steps": 40, "n_steps": 50, "t0": 10, "sample_steps": 4,
                          "model_params": {"hidden": 32, "n_layers": 2}},
            "diffadt": {"max_steps": 10, "n_steps": 50, "t0": 10, "sample_steps": 2,
                        "model_params": {"residual_channels": 4, "n_layers": 2, "s4_state": 4,
                                         "dilation_cycle": 2}},
            "autoencoder": {"epochs": 2}, "ocsvm": {}, "kpca": {"n_components": 4},
        },
    },
    # the reported series: the first 4/4/3/5/4 of each dataset are those spread over the sorted lists
    # until 2026-12-06 (``n_series``); the rest were added, spread over the series the ``dev`` profile
    # does not use, so that a single series moves a mean less (1342 s on 2 cores at window 16, 2992 s at
    # window 32 on a machine where the unchanged DiffADT row took 2.04 times as long)
    "default": {
        "series": {
            "SMAP": ["A-1", "D-9", "F-1", "T-3", "A-3", "D-8", "F-2", "T-1"],
            "MSL": ["C-1", "M-1", "P-11", "T-13", "D-14", "F-8", "P-14", "T-9"],
            "SMD": ["machine-1-2", "machine-2-3", "machine-3-10", "machine-1-4", "machine-1-8", "machine-2-5",
                    "machine-2-7", "machine-3-4"],
            "NAB": ["artificialWithAnomaly/art_daily_flatmiddle", "realAWSCloudwatch/ec2_disk_write_bytes_1ef3de",
                    "realAdExchange/exchange-4_cpc_results", "realTraffic/occupancy_t4013",
                    "realTweets/Twitter_volume_UPS", "artificialWithAnomaly/art_daily_jumpsup",
                    "realAdExchange/exchange-2_cpm_results", "realTweets/Twitter_volume_KO"],
            "UCR": ["001_UCR_Anomaly_DISTORTED1sddb40_35000_52000_52620",
                    "048_UCR_Anomaly_DISTORTEDTkeepFifthMARS_3500_5988_6085",
                    "149_UCR_Anomaly_Lab2Cmac011215EPG5_7000_17390_17520",
                    "181_UCR_Anomaly_park3m_60000_72150_72495",
                    "019_UCR_Anomaly_DISTORTEDGP711MarkerLFM5z1_5000_6168_6212",
                    "112_UCR_Anomaly_BIDMC1_2500_5400_5600",
                    "167_UCR_Anomaly_gait1_20000_38500_38800"],
        },
        "max_train": 3000, "max_test": 5000,
        "params": {
            "diffadt": {"max_steps": 1000, "sample_steps": 5, "model_params": _SMALL_DIFFWAVE},
        },
    },
    # development series: the same archives, none of the series ``default`` scores; defaults of the
    # diffusion detectors are compared here, never on the reported series (a test checks the two
    # selections are disjoint)
    "dev": {
        "series": {
            "SMAP": ["A-8", "D-12", "E-12", "P-3", "A-2", "D-4", "E-5", "G-3", "T-2"],
            "MSL": ["D-16", "M-2", "P-10", "T-5", "C-2", "F-5", "M-5", "S-2", "T-12"],
            "SMD": ["machine-1-5", "machine-2-4", "machine-3-2", "machine-1-3", "machine-1-7", "machine-2-2",
                    "machine-2-8", "machine-3-5"],
            "NAB": ["realTraffic/occupancy_6005", "realAdExchange/exchange-3_cpm_results",
                    "realTweets/Twitter_volume_IBM", "realAdExchange/exchange-2_cpc_results",
                    "artificialWithAnomaly/art_daily_jumpsdown", "realAWSCloudwatch/ec2_cpu_utilization_ac20cd",
                    "realAdExchange/exchange-3_cpc_results", "realTraffic/speed_6005",
                    "realTweets/Twitter_volume_PFE"],
            "UCR": ["044_UCR_Anomaly_DISTORTEDPowerDemand1_9000_18485_18821",
                    "166_UCR_Anomaly_apneaecg_10000_12240_12308",
                    "162_UCR_Anomaly_WalkingAceleration5_2700_5920_5979",
                    "043_UCR_Anomaly_DISTORTEDMesoplodonDensirostris_10000_19280_19440",
                    "012_UCR_Anomaly_DISTORTEDECG2_15000_16000_16100",
                    "078_UCR_Anomaly_DISTORTEDresperation1_100000_110260_110412",
                    "117_UCR_Anomaly_CIMIS44AirTemperature5_4000_4852_4900",
                    "136_UCR_Anomaly_InternalBleeding17_1600_3198_3309",
                    "174_UCR_Anomaly_insectEPG2_3700_8000_8025"],
        },
        "max_train": 3000, "max_test": 5000,
        "params": {
            "diffadt": {"max_steps": 1000, "sample_steps": 5, "model_params": _SMALL_DIFFWAVE},
        },
    },
    "full": {
        "n_series": 0, "max_train": 0, "max_test": 0,
        "params": {
            "diffusion": {"device": "auto"},
            "diffadt": {"sample_steps": 10, "device": "auto",
                        "model_params": {"residual_channels": 64, "n_layers": 8, "s4_state": 32,
                                         "dilation_cycle": 4}},
        },
    },
}


# --------------------------------------------------------------------------- data


def _univariate(dataset: str, name: str, train: np.ndarray, test: np.ndarray, labels: np.ndarray) -> Entity:
    return Entity(name=name, dataset=dataset, train=train[:, None].astype(np.float32),
                  test=test[:, None].astype(np.float32), labels=labels.astype(np.int8),
                  telemetry_channels=(0,), command_channels=(), entity_id=0)


def load_problems(dataset: str, *, n_series: int = 0, max_train: int = 0, max_test: int = 0,
                  names: Sequence[str] | None = None) -> list[Entity]:
    """The series of ``dataset`` the leaderboard scores, as :class:`Entity` objects with only the
    measured channels, cut by :func:`~diffad_lib.experiments.truncate_entity` (the test window keeps
    the first labelled segment). Series without a labelled step in the scored part are skipped.
    ``names`` picks the series by name instead of spreading ``n_series`` over the sorted list.
    """
    from diffad_lib.data.nab import list_nab, load_nab
    from diffad_lib.data.telemetry import list_entities, load_telemetry
    from diffad_lib.data.ucr import list_ucr, load_ucr
    from diffad_lib.experiments import truncate_entity

    check_choice(dataset, name="dataset", choices=DATASETS)
    check_int(n_series, name="n_series", minimum=0)
    problems: list[Entity] = []
    if names is not None:
        names = list(names)
        if not names:
            raise ValueError("names must list at least one series; pass None to spread n_series")
    if dataset in ("SMAP", "MSL", "SMD"):
        for ent in load_telemetry(dataset, entities=names or spread(list_entities(dataset), n_series or None)):
            keep = list(ent.telemetry_channels)
            problems.append(dataclasses.replace(ent, train=ent.train[:, keep], test=ent.test[:, keep],
                                                telemetry_channels=tuple(range(len(keep))), command_channels=()))
    elif dataset == "NAB":
        candidates = []
        for name in list_nab():
            s = load_nab(name)
            if s.labels[s.probation:].any():
                candidates.append(s)
        chosen = set(names) if names is not None else set(spread([c.name for c in candidates], n_series or None))
        unknown = sorted(chosen - {c.name for c in candidates})
        if unknown:
            raise ValueError(f"names: no NAB series with a scored anomaly is called {unknown}")
        for s in [c for c in candidates if c.name in chosen]:
            p = s.probation
            problems.append(_univariate("NAB", s.name, s.values[:p], s.values[p:], s.labels[p:]))
    else:
        for name in names or spread(list_ucr(), n_series or None):
            s = load_ucr(name)
            problems.append(_univariate("UCR", s.name, s.values[: s.train_end], s.values[s.train_end:],
                                        s.labels[s.train_end:]))
    out = []
    for ent in problems:
        if max_train and len(ent.train) > max_train:  # keep the training steps nearest the test split
            ent = dataclasses.replace(ent, train=ent.train[-max_train:])
        ent = truncate_entity(ent, max_test_length=max_test)
        if ent.labels.any():
            out.append(ent)
    return out


# --------------------------------------------------------------------------- scoring


def score_problem(problem: Entity, methods: Sequence[str], params: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Fit and evaluate every method on one series with the leaderboard protocol.

    Returns ``{method: {metric: value, ..., "threshold": t, "fit_seconds": s}}`` (metrics of
    :data:`METRICS`; ``t`` from the smoothed held-out training scores).
    """
    import torch

    from diffad_lib.experiments import make_detector
    from diffad_lib.scoring import smooth

    torch.set_num_threads(1)
    out: dict[str, Any] = {}
    kind, size = SMOOTHING
    for name in methods:
        p = dict(params.get(name, {}))
        det = make_detector(name, **p)
        extra = {"val_fraction": VAL_FRACTION}
        if "smoothing" in det.get_params():
            extra["smoothing"] = "none"  # the leaderboard smooths every method's scores the same way
        det.set_params(**extra)
        start = time.perf_counter()
        det.fit(problem.train)
        fit_seconds = time.perf_counter() - start
        threshold = _board_threshold(det)[2]
        test_scores = smooth(det.decision_function(problem.test), kind=kind, size=size)
        result = metrics.evaluate(problem.labels, test_scores, threshold)
        out[name] = {**{m: float(result[m]) for m in METRICS}, "threshold": threshold,
                     "fit_seconds": round(fit_seconds, 2)}
    return out


def _board_threshold(det: Any) -> tuple[np.ndarray, int, float]:
    """The board's threshold of a fitted detector: ``(scores, n_fit, threshold)``, its training scores
    smoothed as on the board, the length of the fitting part, and three sigma of the smoothed scores of
    the held-out part that follows it (test labels play no part)."""
    from diffad_lib.scoring import smooth
    from diffad_lib.thresholds import fit_threshold

    if not hasattr(det, "decision_scores_"):
        raise ValueError("det must be a fitted detector (it has no decision_scores_); call fit first")
    kind, size = SMOOTHING
    scores = smooth(det.decision_scores_, kind=kind, size=size)
    n_fit = det._n_fit(len(scores))
    if n_fit >= len(scores):
        raise ValueError("det was fitted without a held-out part (val_fraction=0); the board's threshold needs one")
    return scores, n_fit, float(fit_threshold(scores[n_fit:], method="three_sigma"))


def fitting_flag_rate(det: Any) -> float:
    """Share of the fitting part's steps that a fitted detector flags with the board's threshold.

    The threshold is the board's (:func:`score_problem`): three sigma of the smoothed scores of the
    held-out fifth; the share is taken over the steps before it, the data the model was fitted on. A
    detector that scores how unusual a step is flags few of them (on normal data about as few as of the
    held-out part); one that also scores steps it fits *better* than the held-out data as unusual flags many.
    """
    scores, n_fit, threshold = _board_threshold(det)
    return float(np.mean(scores[:n_fit] > threshold))


def _task(problem: Entity, methods: Sequence[str], params: dict[str, dict[str, Any]]) -> tuple[str, str, dict]:
    """One series scored; a parameter the series cannot take is reported with the series' name."""
    try:
        return problem.dataset, problem.name, score_problem(problem, methods, params)
    except ValueError as exc:
        raise ValueError(f"{problem.dataset} series {problem.name!r}: {exc}") from exc


def _commit() -> str:
    """The short commit of the library's checkout, with ``+dirty`` when ``diffad_lib`` holds uncommitted
    changes (the scores then come from code no commit holds); ``unknown`` outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=here)
        commit = out.stdout.strip()
        if not commit:
            return "unknown"
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
                                capture_output=True, text=True, timeout=10, cwd=here)
        return commit + ("+dirty" if status.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    return f"CPU {_cpu_model()}, {os.cpu_count()} cores"


def _cpu_model() -> str:
    """The processor's model name (Linux: ``/proc/cpuinfo``), so that run times of two boards can be
    told apart by machine; else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name") and ":" in line:
                    return f"{line.split(':', 1)[1].strip()} ({platform.machine()})"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_leaderboard(
    *,
    profile: str = "default",
    datasets: Sequence[str] = DATASETS,
    methods: Sequence[str] | None = None,
    jobs: int = 1,
    output: str | Path | None = None,
    progress: bool = True,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run the leaderboard and return (and, with ``output``, write atomically) its JSON document.

    Parameters
    ----------
    profile : {"smoke", "default", "dev", "full"}
        ``dev``: the development series (disjoint from ``default``'s) the defaults are compared on.
    datasets : subset of :data:`DATASETS`
    methods : registry names, default every method that scores series
    jobs : int, default 1
        Series scored at a time, each in its own process (torch on one thread in each).
    output : path, optional
    progress : bool, default True
        A progress bar over series.
    overrides : dict method -> {parameter: value}, optional
        Parameters set on top of the profile's, e.g. ``{"diffusion": {"min_steps": 12000}}``: a
        variant of a method scored with the same protocol (how the defaults are compared on the
        ``dev`` series). Recorded in the JSON's ``meta``; unknown methods or parameter names are
        refused before anything runs.

    Returns
    -------
    dict
        ``{"meta": {...}, "datasets": {D: {M: {metric: mean, "n_series": k}}},
        "series": {D: {series: {M: {metric: value, "fit_seconds": s}}}}}``
    """
    from diffad_lib.experiments import method_names

    check_choice(profile, name="profile", choices=tuple(PROFILES))
    check_int(jobs, name="jobs", minimum=1)
    bad = [d for d in datasets if d not in DATASETS]
    if bad or not datasets:
        raise ValueError(f"datasets must be a non-empty subset of {DATASETS}; got {list(datasets)}")
    valid = method_names(input="series")
    methods = list(valid if methods is None else methods)
    unknown = [m for m in methods if m not in valid]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {valid}; got {methods}")
    cfg = PROFILES[profile]
    params = _with_overrides(cfg["params"], overrides or {}, methods)
    commit = _commit()  # the code the run starts with (a commit made while it runs is not it)
    start = time.perf_counter()
    problems: list[Entity] = []
    for d in datasets:
        if "series" in cfg:
            problems += load_problems(d, names=cfg["series"][d], max_train=cfg["max_train"], max_test=cfg["max_test"])
            continue
        n = cfg["n_series"][d] if isinstance(cfg["n_series"], dict) else cfg["n_series"]
        problems += load_problems(d, n_series=n, max_train=cfg["max_train"], max_test=cfg["max_test"])
    series: dict[str, dict[str, Any]] = {d: {} for d in datasets}
    bar = _bar(len(problems), progress)
    try:
        if jobs == 1:
            for prob in problems:
                d, name, result = _task(prob, methods, params)
                series[d][name] = result
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(_task, prob, methods, params) for prob in problems]
                try:
                    for fut in as_completed(futures):
                        d, name, result = fut.result()
                        series[d][name] = result
                        bar.update()
                except BaseException:
                    # the first failure ends the run: series not started yet are dropped rather than
                    # scored (leaving the pool would otherwise wait for every one of them first)
                    pool.shutdown(cancel_futures=True)
                    raise
    finally:
        bar.close()
    doc = {
        "meta": {"commit": commit, "command": _command(profile, datasets, methods, overrides or {}),
                 "device": _device(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
                 "profile": profile, "seconds": round(time.perf_counter() - start, 1), "jobs": jobs,
                 "smoothing": f"{SMOOTHING[0]} {SMOOTHING[1]}", "threshold": "three_sigma",
                 "val_fraction": VAL_FRACTION, "max_train": cfg["max_train"], "max_test": cfg["max_test"],
                 "params": params, "overrides": overrides or {}, "python": sys.version.split()[0]},
        "datasets": {d: _means(series[d], methods) for d in datasets},
        "series": {d: {k: series[d][k] for k in sorted(series[d])} for d in datasets},
    }
    if output is not None:
        from diffad_lib.report import atomic_write_text

        Path(output).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(output, json.dumps(doc, indent=1, sort_keys=False) + "\n")
    return doc


def _with_overrides(base: dict[str, dict[str, Any]], overrides: dict[str, dict[str, Any]],
                    methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """A profile's parameters with ``overrides`` set on top (a new dict; the profile is unchanged).
    Each method's parameters are checked by building its detector, so an unknown name fails here."""
    from diffad_lib.experiments import make_detector

    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise TypeError("overrides must map a method name to a dict of its parameters, "
                        "e.g. {'diffusion': {'min_steps': 12000}}")
    stray = sorted(set(overrides) - set(methods))
    if stray:
        raise ValueError(f"overrides name methods {stray} that this run does not score; it scores {list(methods)}")
    params = {m: dict(p) for m, p in base.items()}
    for m, extra in overrides.items():
        params[m] = {**params.get(m, {}), **extra}
        make_detector(m, **params[m])  # ValueError naming the valid parameters
    return params


def _command(profile: str, datasets: Sequence[str], methods: Sequence[str],
             overrides: dict[str, dict[str, Any]]) -> str:
    """The ``diffad leaderboard`` command line that reproduces a run."""
    from diffad_lib.experiments import method_names

    parts = ["diffad leaderboard", f"--profile {profile}"]
    if list(datasets) != list(DATASETS):
        parts.append("--datasets " + " ".join(datasets))
    if list(methods) != list(method_names(input="series")):
        parts.append("--methods " + " ".join(methods))
    for m, extra in overrides.items():
        parts += [f"-p {m}.{k} '{json.dumps(v)}'" for k, v in extra.items()]
    return " ".join(parts)


def parse_overrides(pairs: Sequence[Sequence[str]] | None) -> dict[str, dict[str, Any]]:
    """``[("diffusion.min_steps", "12000")]`` -> ``{"diffusion": {"min_steps": 12000}}`` (values read
    as YAML, as ``diffad run -p`` reads them)."""
    from diffad_lib.runner import parse_overrides as parse_values

    out: dict[str, dict[str, Any]] = {}
    for key, value in pairs or ():
        method, dot, name = key.partition(".")
        if not dot or not method or not name:
            raise ValueError(f"a leaderboard parameter is named METHOD.PARAMETER (e.g. diffusion.min_steps); "
                             f"got {key!r}")
        out.setdefault(method, {}).update(parse_values([(name, value)]))
    return out


def _bar(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="leaderboard series", disable=not enabled)


def _means(per_series: dict[str, dict[str, dict[str, float]]], methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for m in methods:
        rows = [r[m] for r in per_series.values() if m in r]
        if rows:
            out[m] = {k: float(np.mean([r[k] for r in rows])) for k in METRICS} | {"n_series": len(rows)}
    return out


# --------------------------------------------------------------------------- label novelty


def novelty_share(labels: Any, novelty: Any) -> float:
    """Share of the unlabelled steps whose ``novelty`` exceeds the median novelty of the labelled steps.

    ``labels``: (n,) 0/1 (1 = labelled anomalous), with at least one step of each kind; ``novelty``:
    (n,) finite, larger = farther from the normal data. Near 0: the labelled steps lie farther from the
    normal data than almost every unlabelled step. 0.5 or more: at least half of the unlabelled steps
    lie farther than the typical labelled step, so any detector that scores how far a step lies from the
    normal data ranks most of the labelled stretch below them, however good it is.
    """
    lab = np.asarray(labels)
    nov = np.asarray(novelty, dtype=np.float64)
    if lab.ndim != 1 or nov.shape != lab.shape:
        raise ValueError(f"labels and novelty must be 1-D of the same length; got shapes {lab.shape} and {nov.shape}")
    if not np.isin(lab, (0, 1)).all():
        raise ValueError("labels must hold only 0 and 1")
    if not np.isfinite(nov).all():
        raise ValueError("novelty must be finite (no NaN or inf)")
    lab = lab.astype(bool)
    if lab.all() or not lab.any():
        raise ValueError("labels must mark at least one labelled and one unlabelled step")
    return float(np.mean(nov[~lab] > np.median(nov[lab])))


def label_novelty(problem: Entity) -> tuple[float, np.ndarray]:
    """How novel the labelled steps of a leaderboard series are, next to its unlabelled test steps.

    The novelty of a test step is the board's k-nearest-neighbours score of it (the distance of its
    windows to the nearest fitting window, fitted and smoothed with the board's protocol): no method
    is closer to "how far from the training data" than that distance. Returns
    ``(novelty_share(labels, novelty), novelty)``, the second (n_test,). The share tells a series whose
    labelled stretch is less novel than most of its normal test steps (0.5 or more), where ranking the
    labelled steps high takes something other than distance from the training data.
    """
    from diffad_lib.experiments import make_detector
    from diffad_lib.scoring import smooth

    det = make_detector("knn").set_params(val_fraction=VAL_FRACTION)
    det.fit(problem.train)
    kind, size = SMOOTHING
    novelty = smooth(det.decision_function(problem.test), kind=kind, size=size)
    return novelty_share(problem.labels, novelty), novelty


# --------------------------------------------------------------------------- display


def leaderboard_table(doc: dict[str, Any], *, metric: str = "vus_pr") -> Any:
    """Mean ``metric`` per dataset (columns) and method (rows, display names), plus the mean rank.

    Returns a pandas DataFrame; the method with the best mean of a dataset has rank 1.
    """
    import pandas as pd

    from diffad_lib.experiments import display_name

    check_choice(metric, name="metric", choices=METRICS)
    data = {d: {m: v[metric] for m, v in methods.items()} for d, methods in doc["datasets"].items()}
    table = pd.DataFrame(data)
    table["mean rank"] = table.rank(ascending=False).mean(axis=1)
    table.index = [display_name(m) for m in table.index]
    return table.sort_values("mean rank")

"""Data: real benchmarks (registry, telemetry, NAB, UCR, magnetic tiles, UrbanSound8K) and framing into windows."""

from diffad_lib.data.audio import OneClassSplit, WavFolder, one_class_split, urbansound8k
from diffad_lib.data.images import MVTecData, magnetic_tiles, mvtec_ad
from diffad_lib.data.nab import NABSeries, list_nab, load_nab
from diffad_lib.data.registry import (
    DATASETS,
    DatasetInfo,
    RegistryFile,
    dataset_info,
    dataset_path,
    default_data_root,
    prepare,
    prepared_files,
    registry_files,
    verified_files,
)
from diffad_lib.data.telemetry import (
    Entity,
    dataset_summary,
    list_entities,
    load_smap_msl,
    load_smd,
    load_telemetry,
)
from diffad_lib.data.ucr import UCRSeries, list_ucr, load_ucr
from diffad_lib.data.windows import frame, hop_from_alpha, stitch, window_starts

__all__ = [
    "MVTecData",
    "OneClassSplit",
    "WavFolder",
    "magnetic_tiles",
    "mvtec_ad",
    "one_class_split",
    "prepared_files",
    "urbansound8k",
    "verified_files",
    "DATASETS",
    "DatasetInfo",
    "Entity",
    "NABSeries",
    "RegistryFile",
    "UCRSeries",
    "dataset_info",
    "dataset_path",
    "dataset_summary",
    "default_data_root",
    "frame",
    "hop_from_alpha",
    "list_entities",
    "list_nab",
    "list_ucr",
    "load_nab",
    "load_smap_msl",
    "load_smd",
    "load_telemetry",
    "load_ucr",
    "prepare",
    "registry_files",
    "stitch",
    "window_starts",
]

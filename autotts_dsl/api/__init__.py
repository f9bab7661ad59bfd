"""The public Python API: what notebooks, scripts, agents and the `tts-dsl`
command line call (docs/api.md documents every name).

    import autotts_dsl as tts

    cmc = tts.load("cmc")                          # a stdlib name, a path, or program text
    tts.check(cmc).ok                              # diagnostics as objects, rendering separate
    df = tts.run(cmc, "autotts/Qwen3-8B/aime24", betas=[0.25, 0.5, 1.0])
    fig = tts.plot(df)                             # a matplotlib Figure

One module per job, each re-exported here (and by `autotts_dsl`):

* `programs` — load, read and check programs; the stdlib;
* `authoring` — format, scaffold, the grammar for constrained decoders;
* `execution` — engines and executors (local processes, Ray);
* `replay_stores` — find, open, describe, add and fetch replay stores;
* `evaluation` — one program on stores (`evaluate`), grids as tables (`run`),
  episodes, the empirical check;
* `sweeping` — cached, parallel, resumable sweeps and their files;
* `figures` — reading results back, the headline, figures;
* `search`, `live` — discovery, collecting stores, live inference, serving
  a store as a model.

Names load on first use, so `import autotts_dsl` and `tts-dsl --help` stay
cheap: the engines, numpy, pandas and matplotlib load with the functions
that need them. Names not exported here are internals.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

EXPORTS: dict[str, str] = {
    "add_store_dir": "replay_stores",
    "AUTOTTS_DATASETS": "replay_stores",
    "AUTOTTS_MODELS": "replay_stores",
    "BACKEND_ENV": "execution",
    "BackendDown": "search",
    "BackendError": "execution",
    "BACKENDS": "execution",
    "build_store": "live",
    "BuildError": "live",
    "CACHE_FILE": "sweeping",
    "CacheError": "sweeping",
    "Cell": "sweeping",
    "cell_text": "sweeping",
    "CellMetrics": "sweeping",
    "CellOutcome": "sweeping",
    "chat_template": "live",
    "check": "programs",
    "check_empirical": "evaluation",
    "CheckFailed": "sweeping",
    "CheckReport": "programs",
    "collect": "live",
    "collect_journal_path": "live",
    "Collected": "live",
    "CollectError": "live",
    "collection_note": "replay_stores",
    "collection_plan": "live",
    "CollectProgress": "live",
    "CollectSettings": "live",
    "COLUMNS": "evaluation",
    "config_file": "replay_stores",
    "configure_search": "search",
    "connect": "live",
    "cpu_count": "execution",
    "data_dir": "replay_stores",
    "DEFAULT_PROBE_SUFFIX": "live",
    "DEFAULT_PROMPT_TEMPLATE": "live",
    "DEFAULT_SEEDS": "evaluation",
    "describe_store": "replay_stores",
    "Diagnostic": "programs",
    "EmpiricalReport": "evaluation",
    "EPISODE_COLUMNS": "evaluation",
    "EpisodeFault": "evaluation",
    "episodes": "evaluation",
    "equivalence": "live",
    "EquivalenceUnavailable": "live",
    "evaluate": "evaluation",
    "Executor": "execution",
    "ExecutorError": "execution",
    "EXECUTORS": "execution",
    "FaultSpecError": "live",
    "fetch_autotts": "replay_stores",
    "FetchResult": "replay_stores",
    "figure_format": "figures",
    "FIGURE_FORMATS": "figures",
    "FigureFormatError": "figures",
    "format_program": "authoring",
    "FormatError": "authoring",
    "grammar": "authoring",
    "GRAMMAR_DIALECTS": "authoring",
    "GrammarExportError": "authoring",
    "GridError": "evaluation",
    "headline": "figures",
    "HeldoutReport": "search",
    "History": "search",
    "HISTORY_FILE": "search",
    "infer": "live",
    "infer_journal_path": "live",
    "infer_result_lines": "live",
    "Inference": "live",
    "InferError": "live",
    "InferProgress": "live",
    "InferRun": "live",
    "InferSettings": "live",
    "inspect_store": "live",
    "JournalError": "live",
    "KnobRow": "programs",
    "list_stores": "replay_stores",
    "load": "programs",
    "load_questions": "live",
    "merge_stores": "live",
    "MergeError": "live",
    "MergeResult": "live",
    "ModelServer": "live",
    "new_program": "authoring",
    "open_executor": "execution",
    "open_search": "search",
    "open_store": "replay_stores",
    "open_stores": "replay_stores",
    "ParamError": "sweeping",
    "parse_betas": "evaluation",
    "parse_formats": "figures",
    "PICK_FILE": "search",
    "plan_sweep": "sweeping",
    "plot": "figures",
    "PLOT_FILE": "search",
    "print_search_heldout": "search",
    "print_search_pick": "search",
    "print_search_report": "search",
    "Program": "programs",
    "ProgramError": "programs",
    "ProgramHeadline": "figures",
    "ProgramLike": "programs",
    "ProgramNotFound": "programs",
    "ProgramText": "programs",
    "ProgressFn": "evaluation",
    "PromptError": "live",
    "PROPOSERS": "search",
    "PROVENANCE_FILE": "sweeping",
    "public_url": "live",
    "QuestionItem": "live",
    "QuestionsError": "live",
    "read_program": "programs",
    "read_results": "figures",
    "record_inference": "live",
    "Recorded": "live",
    "remove_store_dir": "replay_stores",
    "ReplayModelError": "live",
    "ReplayServer": "live",
    "ReplayStore": "replay_stores",
    "Results": "figures",
    "ResultsError": "figures",
    "resume_search": "search",
    "Rule": "live",
    "run": "evaluation",
    "run_search": "search",
    "run_sweep_plan": "sweeping",
    "RunError": "evaluation",
    "RunResult": "evaluation",
    "Sampling": "live",
    "save_figures": "figures",
    "save_plot": "figures",
    "save_trajectory": "figures",
    "ScaffoldError": "authoring",
    "SEARCH_BETAS": "search",
    "search_console": "search",
    "search_heldout": "search",
    "SEARCH_N_SEEDS": "search",
    "search_prompt": "search",
    "search_report": "search",
    "SEARCH_SEEDS": "search",
    "search_summary": "search",
    "search_worker_setup": "search",
    "SearchConfig": "search",
    "SearchReport": "search",
    "SearchReporter": "search",
    "SearchResult": "search",
    "SearchState": "search",
    "SeedError": "search",
    "serve_replay": "live",
    "ServerError": "live",
    "SetupError": "search",
    "start_search": "search",
    "stdlib": "programs",
    "stdlib_names": "programs",
    "stdlib_source": "programs",
    "StdlibEntry": "programs",
    "store_base_url": "replay_stores",
    "store_dirs": "replay_stores",
    "StoreError": "replay_stores",
    "StoreHeadline": "figures",
    "StoreInfo": "replay_stores",
    "StoreLike": "evaluation",
    "StoreReport": "live",
    "stores": "replay_stores",
    "StoreSummary": "replay_stores",
    "StoreUnavailable": "replay_stores",
    "sweep": "sweeping",
    "SweepFiles": "sweeping",
    "SweepPlan": "sweeping",
    "SweepProgram": "sweeping",
    "SweepResult": "sweeping",
    "SweepStats": "sweeping",
    "TRACE_LEVELS": "evaluation",
    "TRACES_DIR": "sweeping",
    "trajectory": "figures",
    "TrajectoryError": "figures",
    "TrajectoryPoint": "figures",
    "write_sweep_files": "sweeping",
    "write_sweep_traces": "sweeping",
}
"""Public name -> the module of `autotts_dsl.api` that defines it."""

if TYPE_CHECKING:
    from .authoring import GRAMMAR_DIALECTS as GRAMMAR_DIALECTS
    from .authoring import FormatError as FormatError
    from .authoring import GrammarExportError as GrammarExportError
    from .authoring import ScaffoldError as ScaffoldError
    from .authoring import format_program as format_program
    from .authoring import grammar as grammar
    from .authoring import new_program as new_program
    from .evaluation import COLUMNS as COLUMNS
    from .evaluation import DEFAULT_SEEDS as DEFAULT_SEEDS
    from .evaluation import EPISODE_COLUMNS as EPISODE_COLUMNS
    from .evaluation import TRACE_LEVELS as TRACE_LEVELS
    from .evaluation import EmpiricalReport as EmpiricalReport
    from .evaluation import EpisodeFault as EpisodeFault
    from .evaluation import GridError as GridError
    from .evaluation import ProgressFn as ProgressFn
    from .evaluation import RunError as RunError
    from .evaluation import RunResult as RunResult
    from .evaluation import StoreLike as StoreLike
    from .evaluation import check_empirical as check_empirical
    from .evaluation import episodes as episodes
    from .evaluation import evaluate as evaluate
    from .evaluation import parse_betas as parse_betas
    from .evaluation import run as run
    from .execution import BACKEND_ENV as BACKEND_ENV
    from .execution import BACKENDS as BACKENDS
    from .execution import EXECUTORS as EXECUTORS
    from .execution import BackendError as BackendError
    from .execution import Executor as Executor
    from .execution import ExecutorError as ExecutorError
    from .execution import cpu_count as cpu_count
    from .execution import open_executor as open_executor
    from .figures import FIGURE_FORMATS as FIGURE_FORMATS
    from .figures import FigureFormatError as FigureFormatError
    from .figures import ProgramHeadline as ProgramHeadline
    from .figures import Results as Results
    from .figures import ResultsError as ResultsError
    from .figures import StoreHeadline as StoreHeadline
    from .figures import TrajectoryError as TrajectoryError
    from .figures import TrajectoryPoint as TrajectoryPoint
    from .figures import figure_format as figure_format
    from .figures import headline as headline
    from .figures import parse_formats as parse_formats
    from .figures import plot as plot
    from .figures import read_results as read_results
    from .figures import save_figures as save_figures
    from .figures import save_plot as save_plot
    from .figures import save_trajectory as save_trajectory
    from .figures import trajectory as trajectory
    from .live import DEFAULT_PROBE_SUFFIX as DEFAULT_PROBE_SUFFIX
    from .live import DEFAULT_PROMPT_TEMPLATE as DEFAULT_PROMPT_TEMPLATE
    from .live import BuildError as BuildError
    from .live import Collected as Collected
    from .live import CollectError as CollectError
    from .live import CollectProgress as CollectProgress
    from .live import CollectSettings as CollectSettings
    from .live import EquivalenceUnavailable as EquivalenceUnavailable
    from .live import FaultSpecError as FaultSpecError
    from .live import Inference as Inference
    from .live import InferError as InferError
    from .live import InferProgress as InferProgress
    from .live import InferRun as InferRun
    from .live import InferSettings as InferSettings
    from .live import JournalError as JournalError
    from .live import MergeError as MergeError
    from .live import MergeResult as MergeResult
    from .live import ModelServer as ModelServer
    from .live import PromptError as PromptError
    from .live import QuestionItem as QuestionItem
    from .live import QuestionsError as QuestionsError
    from .live import Recorded as Recorded
    from .live import ReplayModelError as ReplayModelError
    from .live import ReplayServer as ReplayServer
    from .live import Rule as Rule
    from .live import Sampling as Sampling
    from .live import ServerError as ServerError
    from .live import StoreReport as StoreReport
    from .live import build_store as build_store
    from .live import chat_template as chat_template
    from .live import collect as collect
    from .live import collect_journal_path as collect_journal_path
    from .live import collection_plan as collection_plan
    from .live import connect as connect
    from .live import equivalence as equivalence
    from .live import infer as infer
    from .live import infer_journal_path as infer_journal_path
    from .live import infer_result_lines as infer_result_lines
    from .live import inspect_store as inspect_store
    from .live import load_questions as load_questions
    from .live import merge_stores as merge_stores
    from .live import public_url as public_url
    from .live import record_inference as record_inference
    from .live import serve_replay as serve_replay
    from .programs import CheckReport as CheckReport
    from .programs import Diagnostic as Diagnostic
    from .programs import KnobRow as KnobRow
    from .programs import Program as Program
    from .programs import ProgramError as ProgramError
    from .programs import ProgramLike as ProgramLike
    from .programs import ProgramNotFound as ProgramNotFound
    from .programs import ProgramText as ProgramText
    from .programs import StdlibEntry as StdlibEntry
    from .programs import check as check
    from .programs import load as load
    from .programs import read_program as read_program
    from .programs import stdlib as stdlib
    from .programs import stdlib_names as stdlib_names
    from .programs import stdlib_source as stdlib_source
    from .replay_stores import AUTOTTS_DATASETS as AUTOTTS_DATASETS
    from .replay_stores import AUTOTTS_MODELS as AUTOTTS_MODELS
    from .replay_stores import FetchResult as FetchResult
    from .replay_stores import ReplayStore as ReplayStore
    from .replay_stores import StoreError as StoreError
    from .replay_stores import StoreInfo as StoreInfo
    from .replay_stores import StoreSummary as StoreSummary
    from .replay_stores import StoreUnavailable as StoreUnavailable
    from .replay_stores import add_store_dir as add_store_dir
    from .replay_stores import collection_note as collection_note
    from .replay_stores import config_file as config_file
    from .replay_stores import data_dir as data_dir
    from .replay_stores import describe_store as describe_store
    from .replay_stores import fetch_autotts as fetch_autotts
    from .replay_stores import list_stores as list_stores
    from .replay_stores import open_store as open_store
    from .replay_stores import open_stores as open_stores
    from .replay_stores import remove_store_dir as remove_store_dir
    from .replay_stores import store_base_url as store_base_url
    from .replay_stores import store_dirs as store_dirs
    from .replay_stores import stores as stores
    from .search import HISTORY_FILE as HISTORY_FILE
    from .search import PICK_FILE as PICK_FILE
    from .search import PLOT_FILE as PLOT_FILE
    from .search import PROPOSERS as PROPOSERS
    from .search import SEARCH_BETAS as SEARCH_BETAS
    from .search import SEARCH_N_SEEDS as SEARCH_N_SEEDS
    from .search import SEARCH_SEEDS as SEARCH_SEEDS
    from .search import BackendDown as BackendDown
    from .search import HeldoutReport as HeldoutReport
    from .search import History as History
    from .search import SearchConfig as SearchConfig
    from .search import SearchReport as SearchReport
    from .search import SearchReporter as SearchReporter
    from .search import SearchResult as SearchResult
    from .search import SearchState as SearchState
    from .search import SeedError as SeedError
    from .search import SetupError as SetupError
    from .search import configure_search as configure_search
    from .search import open_search as open_search
    from .search import print_search_heldout as print_search_heldout
    from .search import print_search_pick as print_search_pick
    from .search import print_search_report as print_search_report
    from .search import resume_search as resume_search
    from .search import run_search as run_search
    from .search import search_console as search_console
    from .search import search_heldout as search_heldout
    from .search import search_prompt as search_prompt
    from .search import search_report as search_report
    from .search import search_summary as search_summary
    from .search import search_worker_setup as search_worker_setup
    from .search import start_search as start_search
    from .sweeping import CACHE_FILE as CACHE_FILE
    from .sweeping import PROVENANCE_FILE as PROVENANCE_FILE
    from .sweeping import TRACES_DIR as TRACES_DIR
    from .sweeping import CacheError as CacheError
    from .sweeping import Cell as Cell
    from .sweeping import CellMetrics as CellMetrics
    from .sweeping import CellOutcome as CellOutcome
    from .sweeping import CheckFailed as CheckFailed
    from .sweeping import ParamError as ParamError
    from .sweeping import SweepFiles as SweepFiles
    from .sweeping import SweepPlan as SweepPlan
    from .sweeping import SweepProgram as SweepProgram
    from .sweeping import SweepResult as SweepResult
    from .sweeping import SweepStats as SweepStats
    from .sweeping import cell_text as cell_text
    from .sweeping import plan_sweep as plan_sweep
    from .sweeping import run_sweep_plan as run_sweep_plan
    from .sweeping import sweep as sweep
    from .sweeping import write_sweep_files as write_sweep_files
    from .sweeping import write_sweep_traces as write_sweep_traces

__all__ = sorted(EXPORTS)


def __getattr__(name: str) -> Any:
    module = EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *EXPORTS])

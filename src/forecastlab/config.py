"""Loading and validating params.yaml against its JSON schema.

Imports neither TensorFlow nor MLflow: Snakemake calls it while parsing the Snakefile.
"""

from __future__ import annotations

import hashlib
import json
import reprlib
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from forecastlab.architectures import applies, architecture, output_size
from forecastlab.data import source_size, split_sizes
from forecastlab.layout import DEFAULT_PARAMS, model_seeds, study_runs
from forecastlab.windows import window_span


class ParamsError(ValueError):
    """params.yaml does not satisfy its schema; the message names the offending key."""


# The most trained models (seed replicates counted) one params file may plan: a dry run
# of that many builds its DAG in about 15 s on 2 cores; far more would take minutes and
# gigabytes before the first job.
MAX_TRAINED_MODELS = 2000


def planned_jobs(studies: Mapping[str, Any]) -> tuple[int, int]:
    """(trained models, jobs) the workflow plans for validated `studies`, a trained model
    being one seed of one: a train job and a verify job per model, each for all its seeds;
    per study acquire and split jobs, a window job per length and, if it trains any
    model, a report; then summarize, track_models, the computations and index reports and
    `all`."""
    train_jobs = sum(len(study_runs(spec)) for spec in studies.values())
    models = sum(
        len(model_seeds(spec, arch)) for spec in studies.values() for _, arch in study_runs(spec)
    )
    lengths = sum(len(spec["windows"]["lengths"]) for spec in studies.values())
    reports = sum(bool(study_runs(spec)) for spec in studies.values())
    return models, 2 * train_jobs + 2 * len(studies) + lengths + reports + 5


def params_file(environ: Mapping[str, str]) -> str:
    """The params file a run reads: FORECASTLAB_PARAMS when set, else params.yaml."""
    chosen = environ.get("FORECASTLAB_PARAMS")
    if chosen is None:
        return DEFAULT_PARAMS
    if not chosen.strip():
        raise ParamsError(
            "FORECASTLAB_PARAMS is set but empty: unset it to run on params.yaml, or set it "
            "to the params file to run on"
        )
    return chosen


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file, naming the file and line of a syntax error (`path:line: ...`)."""
    try:
        with open(path) as handle:
            return yaml.safe_load(handle)
    except OSError as err:
        raise ParamsError(f"{path}: cannot be read: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        if mark is None:
            raise ParamsError(f"{path}: not valid YAML: {err}") from None
        hint = "; indent with spaces, YAML allows no tabs" if "'\\t'" in str(err.problem) else ""
        raise ParamsError(
            f"{path}:{mark.line + 1}: not valid YAML: {err.problem} (column {mark.column + 1}"
            f"{hint})"
        ) from None


def key_path(parts: Any) -> str:
    """Render a jsonschema path deque as `studies.sine.windows.lengths[0]`."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    where = key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        inside = f" in {where}" if error.absolute_path else ""
        return (
            f"unknown key {', '.join(map(repr, unknown))}{inside} (allowed: {', '.join(allowed)})"
        )
    if error.validator == "propertyNames":
        return f"{where}: unknown name {error.instance!r}: {error.message}"
    if error.validator == "oneOf" and error.context:  # say why each alternative fails
        shown = reprlib.repr(error.instance)  # a list of 10000 seeds, as [0, 1, 2, ...]
        reasons = "; ".join(
            dict.fromkeys(sub.message.replace(repr(sub.instance), shown) for sub in error.context)
        )
        return f"{where}: {shown} is neither of the allowed forms ({reasons})"
    return f"{where}: {error.message}"


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local `$ref` ("#/$defs/name"); keys beside it (a default) are kept."""
    if "$ref" in schema:
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        return {**root["$defs"][schema["$ref"].removeprefix("#/$defs/")], **siblings}
    return schema


def _fill_defaults(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> None:
    """Insert schema defaults for missing properties, recursively, following local $refs
    and the `then` of every `if` that the instance satisfies."""
    schema = _resolve(schema, root)
    if not isinstance(instance, dict):
        return
    for branch in schema.get("allOf", []):
        if "if" in branch and jsonschema.Draft202012Validator(branch["if"]).is_valid(instance):
            _fill_defaults(instance, branch["then"], root)
    properties = schema.get("properties", {})
    for name, sub in properties.items():
        sub = _resolve(sub, root)
        if name not in instance and "default" in sub:
            instance[name] = json.loads(json.dumps(sub["default"]))
        if name in instance:
            _fill_defaults(instance[name], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for name, value in instance.items():
            if name not in properties:
                _fill_defaults(value, extra, root)


def _whole_numbers(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """`instance` with each float the schema wants as an integer made an int, in place
    for mappings. JSON Schema counts 3.0 as an integer, and YAML reads `seed: 3.0` or
    `epochs: 1.0e+3` as floats, which jobs would pass on as "3.0" (an argparse error, a
    `w2.0` path, a TypeError in Keras); validation has already refused fractions."""
    schema = _resolve(schema, root)
    for branch in schema.get("oneOf", []):
        instance = _whole_numbers(instance, branch, root)
    if schema.get("type") == "integer" and isinstance(instance, float):
        return int(instance)
    if isinstance(instance, list) and "items" in schema:
        return [_whole_numbers(item, schema["items"], root) for item in instance]
    if isinstance(instance, dict):
        for branch in schema.get("allOf", []):
            if "if" in branch and jsonschema.Draft202012Validator(branch["if"]).is_valid(instance):
                _whole_numbers(instance, branch["then"], root)
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, value in instance.items():
            sub = properties.get(name, extra if isinstance(extra, dict) else None)
            if sub is not None:
                instance[name] = _whole_numbers(value, sub, root)
    return instance


def validate_params(
    params: Any, schema: Mapping[str, Any], source: str = "params.yaml", root: str | Path = "."
) -> dict:
    """Check `params` against `schema`, fill defaults in place and return it.

    Whole numbers written as floats where an integer is due (`seed: 3.0`) become ints.
    Every check that params alone allow is made here, before any job: a csv study's
    file must lie inside the project folder `root` (or a listed data root) and its
    sizes come from that file. Raises ParamsError naming `source` and the first
    offending key.
    """
    if not isinstance(params, dict):
        raise ParamsError(f"{source}: expected a mapping of keys at the top level")
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n  ".join(_describe(e) for e in errors)
        raise ParamsError(f"{source} is invalid:\n  {details}")
    _whole_numbers(params, schema, schema)
    _fill_defaults(params, schema, schema)
    _check_cross_keys(params, source, Path(root))
    return params


def _check_cross_keys(params: dict, source: str, root: Path) -> None:
    """Rules a JSON schema cannot express, about keys that depend on each other."""
    for study, spec in params["studies"].items():
        where = f"{source} is invalid:\n  studies.{study}"
        for arch in spec["architectures"]:
            if arch not in spec["models"]:
                raise ParamsError(
                    f"{where}.architectures: {arch!r} has no hyperparameters under "
                    f"studies.{study}.models"
                )
        for arch in spec["models"]:
            if arch not in spec["architectures"]:
                raise ParamsError(
                    f"{where}.models.{arch}: {arch!r} is not in studies.{study}.architectures, "
                    "so these hyperparameters would be ignored: list it there or remove them"
                )
        if spec["source"]["kind"] == "csv":
            _check_csv_source(spec["source"], params["data_roots"], root, f"{where}.source")
        windows = spec["windows"]
        for arch in spec["architectures"]:
            _check_model(arch, spec["models"][arch], windows, f"{where}.models.{arch}")
        if (spec["source"]["kind"] == "textbook") != (windows["cut"] == "series"):
            raise ParamsError(
                f"{where}.windows.cut: textbook studies (many short series) and only they "
                "use cut: series"
            )
        _check_sizes(spec, where, root)
    models, jobs = planned_jobs(params["studies"])
    if models > MAX_TRAINED_MODELS:
        largest = max(
            params["studies"], key=lambda study: planned_jobs({study: params["studies"][study]})
        )
        raise ParamsError(
            f"{source} is invalid:\n  studies: these params plan {models} trained models "
            f"({jobs} jobs), more than the {MAX_TRAINED_MODELS} one run may plan; "
            f"studies.{largest} plans the most: lower its seeds, windows.lengths or "
            "architectures, or split the studies over several params files"
        )


def _check_csv_source(source: dict, data_roots: list[str], root: Path, where: str) -> None:
    """The file lies inside the project (or a data root the params list), and the URL is
    a web address: a params file must not make the pipeline read any file on the machine."""
    folders = [root.resolve(), *((root / folder).resolve() for folder in data_roots)]
    if not any((root / source["file"]).resolve().is_relative_to(f) for f in folders):
        raise ParamsError(
            f"{where}.file: {source['file']!r} lies outside the project folder; put the file "
            "under data/external/, or list its folder in data_roots"
        )
    if source["url"] and not source["url"].startswith(("https://", "http://")):
        raise ParamsError(f"{where}.url: {source['url']!r} is not an http:// or https:// address")


def _check_sizes(spec: dict, where: str, root: Path) -> None:
    """The split leaves a training and a test part, and every window length fits in each
    part it is cut from (for a textbook study: in one series)."""
    split, windows, source = spec["split"], spec["windows"], spec["source"]
    size = source_size(source, root)
    if size is None:
        return  # a csv file that cannot be read: its acquire job stops first, saying why
    try:
        parts = dict(zip(("train", "validation", "test"), split_sizes(size, **split), strict=True))
    except ValueError as err:
        raise ParamsError(f"{where}.split: {err}") from None
    for index, length in enumerate(windows["lengths"]):
        span = window_span(length, windows["targets"], windows["horizon"])
        if windows["cut"] == "series":
            if source["n_steps"] < span:
                raise ParamsError(
                    f"{where}.windows.lengths[{index}]: a window of {length} and its targets "
                    f"need {span} steps, but each series has source.n_steps {source['n_steps']}"
                )
            continue
        for part, points in parts.items():
            if 0 < points < span:  # an empty validation part is no part: nothing to cut
                raise ParamsError(
                    f"{where}.windows.lengths[{index}]: a window of {length} and its targets "
                    f"need {span} points, but the {part} part has {points} (of {size})"
                )


def params_hash(params: Mapping[str, Any]) -> str:
    """Stable short hash of a params mapping (key order does not matter)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def git_commit(cwd: str | Path = ".") -> str:
    """HEAD's commit id, or "unknown" outside a git checkout: with params_hash, what
    a result comes from (no MLflow import, for the report kernels)."""
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def _check_model(arch: str, hp: dict, windows: dict, where: str) -> None:
    """The model's target is one the study's windows cut and one its architecture learns;
    a seasonal naive forecast fits in a season and in some window."""
    allowed = architecture(arch).targets
    if hp["target"] not in allowed:
        raise ParamsError(
            f"{where}.target: {arch} learns {' or '.join(allowed)}, not {hp['target']!r}"
        )
    if hp["target"] not in windows["targets"]:
        raise ParamsError(
            f"{where}.target: {hp['target']!r} is not among the study's windows.targets "
            f"{windows['targets']}"
        )
    if arch == "seasonal_naive":
        if output_size(hp, windows["horizon"]) > hp["season"]:
            raise ParamsError(f"{where}.season: a forecast cannot reach beyond one season")
        if not any(applies(arch, hp, length) for length in windows["lengths"]):
            raise ParamsError(
                f"{where}.season: {hp['season']} is longer than every window length "
                f"{windows['lengths']}; the seasonal naive forecast needs a season in the window"
            )

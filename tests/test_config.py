from pathlib import Path

import pytest

from logbert.config import LogBertConfig, WindowConfig, load_config
from logbert.errors import ConfigError


def test_defaults_follow_the_blueprint() -> None:
    c = LogBertConfig()
    assert (c.model.d_model, c.model.d_ff, c.model.n_heads, c.model.n_layers) == (128, 256, 4, 2)
    assert c.model.max_len == 32 and c.train.alpha == 0.1


def test_toml_then_overrides(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[train]\nepochs = 3\n[window]\nmode = "sliding"\n')
    c = load_config(p, {"train.seed": 7})
    assert c.train.epochs == 3 and c.train.seed == 7 and c.window.mode == "sliding"


@pytest.mark.parametrize(
    "text",
    ['[train]\nepochs = 0\n', '[train]\nno_such_key = 1\n', '[window]\nmode = "weird"\n', "not toml ["],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str) -> None:
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError):
        load_config(p)


def test_missing_file_and_unknown_override(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config(None, {"train.nope": 1})


def test_sliding_window_longer_than_the_model_input_is_refused() -> None:
    with pytest.raises(ConfigError, match="window_size"):
        load_config(None, {"window.mode": "sliding", "window.window_size": 40, "window.max_len": 32})
    assert load_config(None, {"window.mode": "session", "window.window_size": 40}).window.window_size == 40


def test_unknown_key_suggests_the_closest_ones() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'train\.epochs'"):
        load_config(None, {"train.epoch": 3})
    with pytest.raises(ConfigError, match="unknown config key 'nothing.like.it'$"):
        load_config(None, {"nothing.like.it": 3})


@pytest.mark.parametrize(
    ("text", "unknown"),
    [('[window]\nsesion_pattern = "x"\n', "window.sesion_pattern"),
     ('[windows]\nsession_pattern = "x"\n', "windows.session_pattern")],
)
def test_a_typo_in_a_config_file_gets_the_suggestion_that_set_gets(tmp_path: Path, text: str, unknown: str) -> None:
    """A TOML file's unknown key (or table) said only pydantic's "Extra inputs are not permitted" where the same typo
    given to --set got "did you mean": one rule for both, the file named."""
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as from_file:
        load_config(path)
    with pytest.raises(ConfigError) as from_set:
        load_config(None, {unknown: "x"})
    said = str(from_set.value)
    assert said.startswith(f"unknown config key '{unknown}'; did you mean 'window.session_pattern'")
    assert str(from_file.value) == f"{path}: {said}"


def test_a_config_file_adjusts_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("[train]\nepochs = 3\n", encoding="utf-8")
    hdfs = load_config(preset="hdfs")
    layered = load_config(path, {"scoring.top_g": 2}, preset="hdfs")
    assert layered.train.epochs == 3 and layered.scoring.top_g == 2  # the file, then the overrides
    assert layered.parser == hdfs.parser and layered.scoring.score == hdfs.scoring.score  # the preset stays


# --- renamed settings: `window.session_preset` is `window.session_id` ("preset" means --preset only)


def test_the_old_session_id_name_still_loads_everywhere_and_users_are_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from logbert.config import config_from_dict

    p = tmp_path / "c.toml"
    p.write_text('[window]\nsession_preset = "hdfs_block"\n')
    with caplog.at_level("WARNING", logger="logbert.config"):
        from_file = load_config(p)
        from_set = load_config(overrides={"window.session_preset": "hdfs_block"})
    assert from_file.window.session_id == from_set.window.session_id == "hdfs_block"
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and all("renamed to 'window.session_id'" in m for m in warned)
    assert str(p) in warned[0] and "--set" in warned[1]

    caplog.clear()
    with caplog.at_level("WARNING", logger="logbert.config"):  # an older artifact's config.json: silent
        stored = config_from_dict({"window": {"mode": "session", "session_preset": "hdfs_block"}})
    assert stored.window.session_id == "hdfs_block" and not caplog.records
    assert "session_preset" not in stored.model_dump()["window"]  # saved under the new name


def test_old_and_new_name_set_differently_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[window]\nsession_preset = "hdfs_block"\nsession_id = "openstack_instance"\n')
    with pytest.raises(ConfigError, match="keep only window.session_id"):
        load_config(p)


def test_a_format_name_given_as_a_preset_points_to_parser_format() -> None:
    with pytest.raises(ConfigError, match="header format, set it with --set parser.format=raw"):
        load_config(preset="raw")
    with pytest.raises(ConfigError, match="did you mean 'hdfs'"):
        load_config(preset="hfds")


def test_every_preset_says_what_it_is_for() -> None:
    from logbert.config import preset_description, preset_names

    assert all(preset_description(name) for name in preset_names())
    # a whole sentence, though it goes on over comment lines (the access preset's was cut after "the referrer")
    assert all(preset_description(name).endswith(".") for name in preset_names())
    assert preset_description("access").endswith("the user agent are read too).")
    assert preset_description("keys").endswith("e.g. DeepLog's hdfs_train).")  # no sentence ends inside (...)
    assert "A line's key" not in preset_description("access")  # the first sentence only: the table is a summary


def test_a_wrong_value_is_said_with_its_setting_and_what_was_given() -> None:
    """pydantic's errors without its type tags and links: the dotted setting, the message, the value given; a
    model check's message without pydantic's 'Value error, ' prefix."""
    with pytest.raises(ConfigError) as error:
        LogBertConfig().with_overrides({"window.mode": "slidin", "train.epochs": -1})
    said = str(error.value)
    assert said.startswith("invalid config: ")
    assert "window.mode: Input should be 'session', 'sliding' or 'time' (got 'slidin')" in said
    assert "train.epochs: Input should be greater than or equal to 1 (got -1)" in said
    assert "errors.pydantic.dev" not in said and "type=" not in said
    with pytest.raises(ConfigError, match=r"scoring: mask_span=2 masks runs of keys") as error:
        LogBertConfig().with_overrides({"scoring.mask_span": 2, "scoring.mask_strategy": "seeded"})
    assert "Value error" not in str(error.value)


def test_overrides_given_as_text_are_a_config_error_that_shows_the_mapping_to_give() -> None:
    """load_config(overrides="model.signals=all") failed with AttributeError: 'str' object has no attribute 'items'."""
    with pytest.raises(ConfigError, match="overrides must be a mapping of dotted keys"):
        load_config(overrides="model.signals=all")  # type: ignore[arg-type]
    assert load_config(overrides={"train.epochs": 3}).train.epochs == 3


def test_the_window_rule_in_words_is_the_one_each_mode_uses() -> None:
    """One description of the window rule for train, tail, serve and /v1/info; a streaming cap shortens it."""
    sliding = WindowConfig(mode="sliding", window_size=20, stride=5, max_len=32)
    assert sliding.rule() == "sliding windows of 20 keys every 5 keys"
    assert sliding.rule(max_window_len=16) == "sliding windows of 16 keys every 5 keys"
    said = "time windows of 90 s, scored in pieces of at most 32 keys"
    assert WindowConfig(mode="time", time_window_s=90).rule() == said
    session = WindowConfig(max_len=64, session_overlap=8)
    assert session.rule() == "sessions, in windows of at most 64 keys, 8 keys shared by consecutive ones"
    assert WindowConfig().rule(max_window_len=512) == "sessions, in windows of at most 32 keys"


def test_a_regex_in_an_error_is_shown_as_written_not_with_doubled_backslashes() -> None:
    r"""repr wrote the user's regex 'Pid=(\\d+' ('\d' doubled), which the user never wrote and cannot paste back."""
    with pytest.raises(ConfigError) as error:
        LogBertConfig().with_overrides({"parser.masks": [{"name": "pid", "pattern": r"Pid=(\d+"}]})
    assert r"mask 'pid': 'Pid=(\d+' is not a valid regex" in str(error.value)
    with pytest.raises(ConfigError) as error:
        LogBertConfig().with_overrides({"window.mode": r"sliding\d"})
    assert r"(got 'sliding\d')" in str(error.value)


def test_a_backspace_toml_made_of_backslash_b_is_refused_with_the_setting_as_a_literal_string(tmp_path: Path) -> None:
    r"""`session_pattern = "\b([0-9a-f]{8})\b"` in a TOML file: a basic string reads \b as a backspace, the pattern
    matched nothing, and "no line names a session id (pattern '([0-9a-f]{8})')" showed no backspace. The file is
    refused, the backspaces shown, and the setting given as a literal string, which works as it is."""
    path = tmp_path / "c.toml"
    path.write_text('[window]\nsession_pattern = "\\b([0-9a-f]{8})\\b"\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    said = str(error.value)
    assert said.startswith(rf"{path}: window.session_pattern = '\x08([0-9a-f]{{8}})\x08' holds a control character")
    assert "reads \\b as a backspace" in said and "literal string ('...')" in said
    suggested = said.rpartition(": ")[2]
    assert suggested == r"session_pattern = '\b([0-9a-f]{8})\b'"
    path.write_text(f"[window]\n{suggested}\n")
    assert load_config(path).window.session_pattern == r"\b([0-9a-f]{8})\b"
    # a tab is the regex's \t either way; "\d" is no TOML escape at all, and TOML's own error says what to write
    path.write_text('[window]\nsession_pattern = "id=(\\\\d+)\\t"\n')
    assert load_config(path).window.session_pattern == "id=(\\d+)\t"
    path.write_text('[window]\nsession_pattern = "id=(\\d+)"\n')
    with pytest.raises(ConfigError, match=r"Unescaped .*write it as a literal string '\.\.\.'"):
        load_config(path)


def test_a_pattern_in_a_message_shows_its_control_characters_and_its_backslashes_as_written(tmp_path: Path) -> None:
    """A backspace in a session pattern (from a TOML or JSON string) was printed as nothing: "(pattern
    '([0-9a-f]{8})')" for the pattern '\\x08([0-9a-f]{8})\\x08'. repr showed it, but doubled every backslash."""
    from logbert.config import quoted
    from logbert.errors import NoSessionIds
    from logbert.pipeline.corpus import read_corpus

    assert quoted("\b(\\S+)\b") == r"'\x08(\S+)\x08'" and quoted(r"\[<Date>\] <Content>") == r"'\[<Date>\] <Content>'"
    log = tmp_path / "x.log"
    log.write_text("".join(f"task 1234abcd step {i}\n" for i in range(10)))
    config = load_config(overrides={"window.session_id": None, "window.session_pattern": "\b(\\w{8})\b"})
    with pytest.raises(NoSessionIds) as error:
        read_corpus(log, config)
    assert r"no line names a session id (pattern '\x08(\w{8})\x08')" in str(error.value)


@pytest.mark.parametrize("given", ["[Task]", "Task", "[Task, 'done']", '"Task"'])
def test_a_list_setting_given_as_text_is_told_the_json_list_to_write(given: str) -> None:
    """`--set 'parser.extra_outcome_words=[Task]'` (no JSON: text) said "Input should be a valid tuple", which says
    neither that --set reads JSON nor how to quote the words. The suggestion, pasted, loads."""
    import json

    with pytest.raises(ConfigError) as error:
        load_config(None, {"parser.extra_outcome_words": given})
    said = str(error.value)
    assert f"parser.extra_outcome_words: expected a list, got '{given}': with --set, a JSON list" in said, said
    assert "valid tuple" not in said
    value = said.split("--set 'parser.extra_outcome_words=")[1].split("'")[0]
    words = ["Task", "done"] if "done" in given else ["Task"]
    assert json.loads(value) == words and f"extra_outcome_words = {value})" in said
    fixed = load_config(None, {"parser.extra_outcome_words": json.loads(value)})
    assert fixed.parser.extra_outcome_words == tuple(words)

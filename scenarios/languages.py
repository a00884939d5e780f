"""The languages figures and the report are drawn in: the codes a config may name.

Part of the schema layer, so that `scenarios.build` can check `figures.language` without
importing `figures` (which sits above it); `figures.labels` holds the texts themselves.
"""

from __future__ import annotations

from innosd.errors import ConfigError, closest

LANGUAGES = ("en", "zh")

# What people type for a language -> its code here. Spelling similarity would suggest 'en'
# for 'cn' (one letter apart); these are offered as hints, never accepted silently.
LANGUAGE_ALIASES = {
    "cn": "zh", "chinese": "zh", "zh-cn": "zh", "zh_cn": "zh", "zh-hans": "zh", "zh-sg": "zh", "zhs": "zh",
    "chs": "zh", "mandarin": "zh", "中文": "zh", "汉语": "zh", "简体中文": "zh",
    "english": "en", "eng": "en", "en-us": "en", "en_us": "en", "en-gb": "en", "en_gb": "en", "uk": "en",
    "us": "en",
}


def language_hint(language: str) -> str:
    """' (did you mean ...?)' for a language code we do not use."""
    alias = LANGUAGE_ALIASES.get(str(language).strip().lower())
    return f" (did you mean {alias!r}?)" if alias else closest(str(language), LANGUAGES)


def check_language(language: str, key: str = "figures.language") -> str:
    """`language` if it is one of LANGUAGES; else a one-line error naming `key` and a hint."""
    if language not in LANGUAGES:
        raise ConfigError(f"{key}: unknown language {language!r}{language_hint(language)}; "
                          f"valid languages: {', '.join(LANGUAGES)}")
    return language

"""Text fields of requests: JSON may carry what Python strings hold but no tokenizer takes."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def _encodable(value: str) -> str:
    # JSON's \ud800 escapes decode to lone surrogates, which UTF-8 (and every tokenizer)
    # refuses: a 422 naming the field, not a 500 from deep inside the model code.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"not valid Unicode: a lone surrogate at character {error.start}; send UTF-8 text"
        ) from None
    return value


Text = Annotated[str, AfterValidator(_encodable)]

from collections.abc import Iterable

class Scorer:
    def __init__(
        self, chars: dict[str, float], lexical: dict[str, float], vocabulary: Iterable[str]
    ) -> None: ...
    def stats(self, text: str) -> tuple[float, int, int, int] | None: ...

"""Policy packs: the file schema, the loader, the default pack and its coverage."""

from aupguard.policy.loader import DEFAULT_PACK, PackError, PackLoadError, load_source

__all__ = ["DEFAULT_PACK", "PackError", "PackLoadError", "load_source"]

"""The admin's template engine: Jinja, through Litestar's plugin, made on the first page.

Litestar builds its template engine when the app is made; this one defers Jinja (and
its environment) until a page is rendered, so a worker that only decides calls never
imports it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar.template import TemplateEngineProtocol

if TYPE_CHECKING:
    from jinja2 import Template
    from litestar.plugins.jinja import JinjaTemplateEngine


class LazyJinja(TemplateEngineProtocol["Template", Mapping[str, Any]]):
    """Litestar's JinjaTemplateEngine on the templates of ``directory``, made on first use."""

    def __init__(self, directory: Path | list[Path] | None,
                 engine_instance: Any | None = None) -> None:
        if directory is None or engine_instance is not None:
            raise ValueError("LazyJinja reads templates from a directory only")
        self._directory = directory
        self._callables: dict[str, Callable[..., Any]] = {}
        self._engine: JinjaTemplateEngine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> JinjaTemplateEngine:
        with self._lock:
            if self._engine is None:
                from litestar.plugins.jinja import JinjaTemplateEngine

                engine = JinjaTemplateEngine(directory=self._directory)
                for key, template_callable in self._callables.items():
                    engine.register_template_callable(key, template_callable)
                self._engine = engine
            return self._engine

    def get_template(self, template_name: str) -> Template:
        return self.engine.get_template(template_name)

    def render_string(self, template_string: str, context: Mapping[str, Any]) -> str:
        return self.engine.render_string(template_string, context)

    def register_template_callable(self, key: str,
                                   template_callable: Callable[..., Any]) -> None:
        with self._lock:
            self._callables[key] = template_callable
            if self._engine is not None:
                self._engine.register_template_callable(key, template_callable)

"""One list of error codes: what each operation declares beside its controller covers what its use cases raise.

The errors a use case can raise are read from the source: every `raise` in its methods and in what they call
within the application and the domain (helpers by name, collaborators by the types their constructor takes,
entity methods by name). Reading the source, not running it, also finds the raises no test reaches.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
import typing
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import Any

import pytest
from litestar import Controller
from litestar.handlers import HTTPRouteHandler

import application
import domain
from domain.errors import DomainError
from entrypoints.http import accounts, dashboard, files, scores, setlists, trash
from entrypoints.http.openapi import ERRORS

CONTROLLER_MODULES = (accounts, dashboard, files, scores, setlists, trash)
Function = ast.FunctionDef | ast.AsyncFunctionDef


def _modules(package: ModuleType) -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        yield importlib.import_module(info.name)


@cache
def _inner_modules() -> tuple[ModuleType, ...]:
    return (*_modules(application), *_modules(domain))


def _is_inner(value: object) -> bool:
    return getattr(value, "__module__", "").partition(".")[0] in {"application", "domain"}


@cache
def _entity_methods(name: str) -> tuple[Any, ...]:
    """Every method of that name on a domain class: what `something.name(...)` may call."""
    found = []
    for module in _modules(domain):
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == module.__name__ and name in vars(cls):
                found.append(vars(cls)[name])
    return tuple(found)


def _function_node(function: Any) -> Function | None:
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return None
    node = ast.parse(source).body[0]
    return node if isinstance(node, Function) else None


def _attribute_types(cls: type) -> dict[str, Any]:
    """`self._x` -> the type of the constructor parameter assigned to it."""
    init = vars(cls).get("__init__")
    node = _function_node(init) if init else None
    if node is None:
        return {}
    hints = typing.get_type_hints(init)
    types = {}
    for statement in ast.walk(node):
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Name)
            and statement.value.id in hints
            and isinstance(target := statement.targets[0], ast.Attribute)
        ):
            types[target.attr] = hints[statement.value.id]
    return types


def _callees(call: ast.Call, module: ModuleType, owner: type | None) -> list[Any]:
    """The application or domain functions a call may reach."""
    target = call.func
    if isinstance(target, ast.Name):
        value = vars(module).get(target.id)
        if inspect.isclass(value) and _is_inner(value):
            return [m for m in (vars(value).get("__init__"), vars(value).get("__post_init__")) if m]
        return [value] if inspect.isfunction(value) and _is_inner(value) else []
    if not isinstance(target, ast.Attribute):
        return []
    receiver = target.value
    if isinstance(receiver, ast.Name) and receiver.id in {"self", "cls"} and owner is not None:
        attribute = inspect.getattr_static(owner, target.attr, None)
        if attribute is not None and callable(getattr(attribute, "__func__", attribute)):
            return [getattr(attribute, "__func__", attribute)]
        collaborator = _attribute_types(owner).get(target.attr)  # self._use_case(...)
        return [collaborator.__call__] if inspect.isclass(collaborator) and _is_inner(collaborator) else []
    if (
        isinstance(receiver, ast.Attribute)
        and isinstance(receiver.value, ast.Name)
        and receiver.value.id == "self"
        and owner is not None
    ):
        collaborator = _attribute_types(owner).get(receiver.attr)  # self._verifier.confirm(...)
        if inspect.isclass(collaborator) and _is_inner(collaborator):
            method = inspect.getattr_static(collaborator, target.attr, None)
            return [method] if inspect.isfunction(method) else []
        return []
    if isinstance(receiver, ast.Name):
        value = vars(module).get(receiver.id)
        if inspect.isclass(value) and _is_inner(value):  # Upload.expire, a class's method by name
            method = inspect.getattr_static(value, target.attr, None)
            return [getattr(method, "__func__", method)] if method is not None else []
        return list(_entity_methods(target.attr))  # upload.confirm(now): an entity's method
    return []


def _error_class(node: ast.expr | None, module: ModuleType) -> list[type[DomainError]]:
    if isinstance(node, ast.Call):
        node = node.func
    if not isinstance(node, ast.Name):
        return []
    value = vars(module).get(node.id)
    if inspect.isclass(value) and issubclass(value, DomainError):
        return [value]
    if inspect.isfunction(value) and (function := _function_node(value)):  # raise _not_ready(...)
        returned = [n.value for n in ast.walk(function) if isinstance(n, ast.Return)]
        return [error for value_node in returned for error in _error_class(value_node, module)]
    return []


def raised_by(function: Any, seen: set[Any] | None = None) -> set[type[DomainError]]:
    """The domain errors `function` may raise, itself or through what it calls in the application and domain."""
    seen = set() if seen is None else seen
    if function in seen or not _is_inner(function):
        return set()
    seen.add(function)
    node = _function_node(function)
    if node is None:
        return set()
    module = inspect.getmodule(function)
    assert module is not None
    owner_name = function.__qualname__.rpartition(".")[0]
    owner = vars(module).get(owner_name) if owner_name else None
    errors: set[type[DomainError]] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Raise):
            errors.update(_error_class(inner.exc, module))
        elif isinstance(inner, ast.Call):
            for callee in _callees(inner, module, owner):
                errors |= raised_by(callee, seen)
    return errors


def _route_handlers() -> Iterator[HTTPRouteHandler]:
    for module in CONTROLLER_MODULES:
        for controller in vars(module).values():
            if inspect.isclass(controller) and issubclass(controller, Controller) and controller is not Controller:
                yield from (v for v in vars(controller).values() if isinstance(v, HTTPRouteHandler))


def _use_cases(handler: HTTPRouteHandler) -> list[type]:
    hints = typing.get_type_hints(handler.fn, include_extras=True)
    found = []
    for hint in hints.values():
        cls = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
        if inspect.isclass(cls) and cls.__module__.startswith("application."):
            found.append(cls)
    return found


HANDLERS = sorted(_route_handlers(), key=lambda handler: str(handler.operation_id))


def test_every_operation_declares_its_errors() -> None:
    assert len(HANDLERS) >= 25
    for handler in HANDLERS:
        assert handler.opt.get(ERRORS), handler.operation_id


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda handler: str(handler.operation_id))
def test_what_the_use_cases_raise_is_documented_for_the_operation(handler: HTTPRouteHandler) -> None:
    use_cases = _use_cases(handler)
    assert use_cases, f"{handler.operation_id} calls no use case"
    declared = handler.opt[ERRORS]
    for use_case in use_cases:
        raised = set().union(*(raised_by(method) for method in _public_methods(use_case)))
        missing = {error.__name__ for error in raised if not issubclass(error, declared)}
        assert not missing, f"{handler.operation_id} calls {use_case.__name__}, which may raise {sorted(missing)}"


def _public_methods(cls: type) -> list[Any]:
    return [m for name, m in vars(cls).items() if inspect.isfunction(m) and (name == "__call__" or name[0] != "_")]


def test_every_declared_error_says_what_it_means_and_its_code_means_one_thing() -> None:
    meaning_by_code: dict[str, str] = {}
    for handler in HANDLERS:
        for error in handler.opt[ERRORS]:
            assert error.__doc__, f"{error.__name__} has no docstring to document it with"
            assert meaning_by_code.setdefault(error.code, error.__doc__) == error.__doc__, error.code


def test_the_reading_of_raises_finds_them_through_helpers_collaborators_and_entities() -> None:
    """The reader itself: a change that blinds it would let undocumented errors through silently."""
    from application.scores import GetDownloadUrl
    from application.setlists import UpdateSetlistItem
    from application.uploads import ConfirmUpload, RequestUploadUrl
    from domain.errors import (
        FileTooLarge,
        InvalidMimeType,
        NotAPdf,
        NotReady,
        QuotaExceeded,
        SetlistItemNotFound,
        SizeMismatch,
        UploadIncomplete,
    )

    assert {FileTooLarge, InvalidMimeType, QuotaExceeded} <= raised_by(RequestUploadUrl.__call__)  # domain helper
    assert {UploadIncomplete, SizeMismatch, NotAPdf} <= raised_by(ConfirmUpload.__call__)  # collaborator
    assert NotReady in raised_by(GetDownloadUrl.__call__)  # raise of a function's result
    assert SetlistItemNotFound in raised_by(UpdateSetlistItem.__call__)  # an entity's method

"""The visitor behind a Gradio request: whether they may change things (studio/workspace.py decides), and the
workspace every handler runs in (studio/core/paths.py: a shared app gives each login, or each anonymous browser
session, folders of its own).

`scope_to_visitors(demo)` wraps every event handler of the app, those hidden from the API page included, so that it
runs inside its visitor's workspace: isolation holds by construction, not by each handler remembering a check.
Gradio sets the request of the event it is running in a context variable (gradio.context.LocalContext.request)
before each call, and before each step of a streaming handler; the wrapper reads it there.
"""

from __future__ import annotations

import functools
import inspect
import shutil

import gradio as gr
from gradio.context import LocalContext

from studio import access, workspace
from studio.core import paths
from studio.jobs import queue


PAGE_WORKSPACE = "_page"
"""The workspace a shared app's page is built in: no visitor's (workspace_name gives "<name>-<hash>"), so its
lists start with the shared samples alone."""


def changer(request: gr.Request | None, what: str) -> str:
    """The owner of what the request makes (a login, a session or ""); gr.Error when the visitor may not."""
    username = getattr(request, "username", None)
    try:
        workspace.check_may_change(username, what)
    except access.AccessError as e:
        raise gr.Error(str(e), print_exception=False) from e
    return workspace.owner(username, getattr(request, "session_hash", None))


def workspace_of(request) -> str:
    """The workspace folder name of `request`'s visitor on a shared app; "" on your own machine."""
    if not access.shared_mode() or request is None:
        return ""
    owner = workspace.owner(getattr(request, "username", None), getattr(request, "session_hash", None))
    return paths.workspace_name(owner) if owner else ""


def _scoped(fn):
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def steps(*args, **kwargs):
            with paths.workspace(workspace_of(LocalContext.request.get(None))):
                iterator = fn(*args, **kwargs)
            while True:  # Gradio runs each step on a worker thread of its own: the workspace is set for each
                with paths.workspace(workspace_of(LocalContext.request.get(None))):
                    try:
                        value = next(iterator)
                    except StopIteration:
                        return
                yield value
        return steps
    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def async_steps(*args, **kwargs):
            iterator = fn(*args, **kwargs)
            while True:
                with paths.workspace(workspace_of(LocalContext.request.get(None))):
                    try:
                        value = await iterator.__anext__()
                    except StopAsyncIteration:
                        return
                yield value
        return async_steps
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_call(*args, **kwargs):
            with paths.workspace(workspace_of(LocalContext.request.get(None))):
                return await fn(*args, **kwargs)
        return async_call

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with paths.workspace(workspace_of(LocalContext.request.get(None))):
            return fn(*args, **kwargs)
    return call


def scope_to_visitors(demo: gr.Blocks) -> gr.Blocks:
    """Run every handler of `demo` in its visitor's workspace (see the module docstring)."""
    for block_fn in demo.fns.values():
        if block_fn.fn is not None:
            block_fn.fn = _scoped(block_fn.fn)
    return demo


def forget_session(request: gr.Request = None) -> None:
    """An anonymous visitor of a shared app left (their page closed): their scratch workspace is deleted, its jobs
    stopped first. A login's workspace stays."""
    if not access.shared_mode() or getattr(request, "username", None) or not getattr(request, "session_hash", None):
        return
    with paths.workspace(workspace_of(request)):
        for info in queue.list_runs():
            if info.state in ("queued", "running"):
                queue.stop(info.id)
        folders = [paths.runs_dir(), paths.data_dir(), paths.knowledge_dir()]
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)

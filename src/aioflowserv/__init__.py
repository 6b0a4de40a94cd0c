"""aioflowserv: an async-first client for flowServ workflow servers, with a sync facade.

>>> import aioflowserv as afs
>>> async with afs.AsyncFlowserv(url) as fs:              # doctest: +SKIP
...     await fs.login("alice", "secret")
...     wf = await fs.workflow("sleeper", group_id)
...     run = await wf.start_run({"sleep": 1}, poll_interval=0.5)
"""

from . import _display as _display  # draws the models: their reprs, HTML and rich tables
from ._arguments import FileArgument
from ._batch import RunBatch
from ._client import AsyncFlowserv
from ._config import VERSION as __version__
from ._config import RetryPolicy
from ._downloads import RunDownload
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ArgumentError,
    BatchSubmissionError,
    BlockingCallError,
    ClientClosedError,
    ConfigurationError,
    FlowservError,
    InvalidArgumentError,
    InvalidRequestError,
    InvalidResponseError,
    NotFoundError,
    PayloadTooLargeError,
    RunNotActiveError,
    RunWaitTimeout,
    ServerError,
    SubmissionUncertainError,
    UnauthenticatedError,
    UnauthorizedError,
    UnknownParameterError,
    UnsafePathError,
)
from ._files import FileHandle
from ._models import (
    Group,
    Leaderboard,
    Parameter,
    ParameterIndex,
    RangeConstraint,
    RankingEntry,
    ResultColumn,
    Run,
    RunFile,
    RunInfo,
    RunList,
    RunSpan,
    RunState,
    SelectOption,
    Timeline,
    UploadedFile,
    User,
    WorkflowInfo,
)
from ._space import Space, grid, integers, sample, uniform, zipped
from ._study import FailureCause, FailureSummary, SweepResult
from ._sync import Flowserv, SyncFileHandle, Workflow
from ._watch import RunRef, WatchStats
from ._workflow import AsyncWorkflow

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ArgumentError",
    "AsyncFlowserv",
    "AsyncWorkflow",
    "BatchSubmissionError",
    "BlockingCallError",
    "ClientClosedError",
    "ConfigurationError",
    "FailureCause",
    "FailureSummary",
    "FileArgument",
    "FileHandle",
    "FlowservError",
    "Flowserv",
    "Group",
    "InvalidArgumentError",
    "InvalidRequestError",
    "InvalidResponseError",
    "Leaderboard",
    "NotFoundError",
    "Parameter",
    "ParameterIndex",
    "PayloadTooLargeError",
    "RangeConstraint",
    "RankingEntry",
    "ResultColumn",
    "RetryPolicy",
    "Run",
    "RunBatch",
    "RunDownload",
    "RunFile",
    "RunInfo",
    "RunList",
    "RunNotActiveError",
    "RunSpan",
    "RunRef",
    "RunState",
    "RunWaitTimeout",
    "SelectOption",
    "ServerError",
    "Space",
    "SubmissionUncertainError",
    "SweepResult",
    "SyncFileHandle",
    "Timeline",
    "UnauthenticatedError",
    "UnauthorizedError",
    "UnknownParameterError",
    "UnsafePathError",
    "UploadedFile",
    "User",
    "WatchStats",
    "Workflow",
    "WorkflowInfo",
    "__version__",
    "grid",
    "integers",
    "sample",
    "uniform",
    "zipped",
]

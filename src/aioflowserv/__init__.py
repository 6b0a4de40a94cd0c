"""aioflowserv: an async-first client for flowServ workflow servers, with a sync facade.

>>> import aioflowserv as afs
>>> async with afs.AsyncFlowserv(url) as fs:              # doctest: +SKIP
...     await fs.login("alice", "secret")
...     wf = await fs.workflow("sleeper", group_id)
...     run = await wf.start_run({"sleep": 1}, poll_interval=0.5)
"""

from ._arguments import FileArgument
from ._client import AsyncFlowserv
from ._config import RetryPolicy
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ArgumentError,
    BatchSubmissionError,
    ClientClosedError,
    ConfigurationError,
    FlowservError,
    InvalidArgumentError,
    InvalidRequestError,
    InvalidResponseError,
    NotFoundError,
    PayloadTooLargeError,
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
    Parameter,
    ParameterIndex,
    RangeConstraint,
    Run,
    RunFile,
    RunInfo,
    RunState,
    SelectOption,
    UploadedFile,
    User,
    WorkflowInfo,
)
from ._submit import RunBatch
from ._sync import Flowserv, SyncFileHandle, Workflow
from ._watch import RunRef
from ._workflow import AsyncWorkflow

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ArgumentError",
    "AsyncFlowserv",
    "AsyncWorkflow",
    "BatchSubmissionError",
    "ClientClosedError",
    "ConfigurationError",
    "FileArgument",
    "FileHandle",
    "FlowservError",
    "Flowserv",
    "Group",
    "InvalidArgumentError",
    "InvalidRequestError",
    "InvalidResponseError",
    "NotFoundError",
    "Parameter",
    "ParameterIndex",
    "PayloadTooLargeError",
    "RangeConstraint",
    "RetryPolicy",
    "Run",
    "RunBatch",
    "RunFile",
    "RunInfo",
    "RunRef",
    "RunState",
    "RunWaitTimeout",
    "SelectOption",
    "ServerError",
    "SubmissionUncertainError",
    "SyncFileHandle",
    "UnauthenticatedError",
    "UnauthorizedError",
    "UnknownParameterError",
    "UnsafePathError",
    "UploadedFile",
    "User",
    "Workflow",
    "WorkflowInfo",
    "__version__",
]

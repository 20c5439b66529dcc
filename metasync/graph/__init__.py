"""The Graph API client: transport, errors, usage headers, paging, batch, insights jobs, tokens."""

from metasync.graph.batch import (
    BatchRequest,
    BatchResult,
    EachRead,
    batch,
    read_each,
)
from metasync.graph.client import ClientStats, GraphClient, GraphConfig, GraphResponse
from metasync.graph.errors import (
    DeprecatedVersionError,
    InsightsTimeoutError,
    InvalidCursorError,
    InvalidRequestError,
    MetaAPIError,
    ObjectNotFoundError,
    PermissionDeniedError,
    RateGovernorUnavailable,
    RateLimitError,
    ReduceDataError,
    TokenError,
    TransientError,
    error_from_response,
)
from metasync.graph.insights import (
    JobState,
    ReportJobStatus,
    insights_params,
    read_insights,
    report_results,
    report_status,
    start_report,
)
from metasync.graph.paging import Listing, Page, iter_pages
from metasync.graph.tokens import ExchangedToken, TokenInfo, debug_token, exchange_token
from metasync.graph.usage import UsageReport, parse_usage_headers

__all__ = [
    "BatchRequest",
    "BatchResult",
    "ClientStats",
    "DeprecatedVersionError",
    "EachRead",
    "ExchangedToken",
    "GraphClient",
    "GraphConfig",
    "GraphResponse",
    "InsightsTimeoutError",
    "InvalidCursorError",
    "InvalidRequestError",
    "JobState",
    "Listing",
    "MetaAPIError",
    "ObjectNotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateGovernorUnavailable",
    "RateLimitError",
    "ReduceDataError",
    "ReportJobStatus",
    "TokenError",
    "TokenInfo",
    "TransientError",
    "UsageReport",
    "batch",
    "debug_token",
    "error_from_response",
    "exchange_token",
    "insights_params",
    "iter_pages",
    "parse_usage_headers",
    "read_each",
    "read_insights",
    "report_results",
    "report_status",
    "start_report",
]

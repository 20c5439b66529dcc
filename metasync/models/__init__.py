"""MongoDB documents (mongoengine) and the bulk upsert used to write pages of them."""

from metasync.models.access import SCOPES, ApiKey, OperatorAction
from metasync.models.account_state import AccountState, AccountSyncState
from metasync.models.alerts import AlertState
from metasync.models.base import MetaObject, as_decimal, aware, utcnow
from metasync.models.bulk import RowValidationError, UpsertResult, upsert_page
from metasync.models.connection import (
    ConnectionStatus,
    MetaConnection,
    RotationReport,
    find_connection,
    rotate_connection_tokens,
)
from metasync.models.entities import Ad, AdAccount, AdCreative, AdSet, Campaign
from metasync.models.exports import ExportRun, ExportTarget, FxRate
from metasync.models.health import AccountHealthRecord, HealthTenant, page_key
from metasync.models.insights import DailyInsight, InsightLevel, attribution_key, breakdown_key
from metasync.models.library import (
    AdActivity,
    AdImage,
    AdVideo,
    ChangeRecord,
    CustomAudience,
    CustomConversion,
)
from metasync.models.optimizer import (
    ActionCount,
    AuditEntry,
    OptimizerSettings,
    OptimizerStream,
    Recommendation,
)
from metasync.models.report_access import ReportAccess, ReportAccessState
from metasync.models.reports import Reconciliation, ReportRow, TenantReport
from metasync.models.runs import (
    QueuedSubtask,
    ReportRun,
    ReportStatus,
    RunPlan,
    RunStatus,
    SyncRun,
)
from metasync.models.tenant import TenantSettings
from metasync.models.upgrades import AppliedUpgrade
from metasync.models.webhooks import WebhookEvent, WebhookStatus

__all__ = [
    "ALL_DOCUMENTS",
    "SCOPES",
    "AccountHealthRecord",
    "AccountState",
    "AccountSyncState",
    "ActionCount",
    "Ad",
    "AdAccount",
    "AdActivity",
    "AdCreative",
    "AdImage",
    "AdSet",
    "AdVideo",
    "AlertState",
    "ApiKey",
    "AppliedUpgrade",
    "AuditEntry",
    "Campaign",
    "ChangeRecord",
    "ConnectionStatus",
    "CustomAudience",
    "CustomConversion",
    "DailyInsight",
    "ExportRun",
    "ExportTarget",
    "FxRate",
    "HealthTenant",
    "InsightLevel",
    "MetaConnection",
    "MetaObject",
    "OperatorAction",
    "OptimizerSettings",
    "OptimizerStream",
    "QueuedSubtask",
    "Recommendation",
    "Reconciliation",
    "ReportAccess",
    "ReportAccessState",
    "ReportRow",
    "ReportRun",
    "ReportStatus",
    "RotationReport",
    "RowValidationError",
    "RunPlan",
    "RunStatus",
    "SyncRun",
    "TenantReport",
    "TenantSettings",
    "UpsertResult",
    "WebhookEvent",
    "WebhookStatus",
    "as_decimal",
    "attribution_key",
    "aware",
    "breakdown_key",
    "find_connection",
    "page_key",
    "rotate_connection_tokens",
    "upsert_page",
    "utcnow",
]

ALL_DOCUMENTS = (
    MetaConnection,
    ApiKey,
    OperatorAction,
    AccountSyncState,
    AdAccount,
    Campaign,
    AdSet,
    Ad,
    AdCreative,
    AdImage,
    AdVideo,
    CustomConversion,
    CustomAudience,
    AdActivity,
    ChangeRecord,
    DailyInsight,
    TenantReport,
    TenantSettings,
    OptimizerSettings,
    Recommendation,
    AuditEntry,
    OptimizerStream,
    ActionCount,
    ReportRow,
    ReportAccess,
    AccountHealthRecord,
    HealthTenant,
    AlertState,
    AppliedUpgrade,
    Reconciliation,
    SyncRun,
    QueuedSubtask,
    RunPlan,
    ReportRun,
    WebhookEvent,
    ExportTarget,
    ExportRun,
    FxRate,
)

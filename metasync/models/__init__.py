"""MongoDB documents (mongoengine) and the bulk upsert used to write pages of them."""

from metasync.models.access import SCOPES, ApiKey, OperatorAction
from metasync.models.account_features import AccountFeatures, FeatureStatus
from metasync.models.account_state import AccountState, AccountSyncState
from metasync.models.alerts import AlertState
from metasync.models.arrivals import FINAL_AGE, ConversionArrivals
from metasync.models.base import MetaObject, as_decimal, aware, utcnow
from metasync.models.bulk import RowValidationError, UpsertResult, upsert_numbered, upsert_page
from metasync.models.connection import (
    ConnectionStatus,
    MetaConnection,
    find_connection,
)
from metasync.models.deletions import ExportDeletion
from metasync.models.encrypted import (
    ENCRYPTED_KINDS,
    EncryptedKind,
    KindRotation,
    rotate_all,
    rotate_kind,
)
from metasync.models.entities import Ad, AdAccount, AdCreative, AdSet, Campaign
from metasync.models.exports import ExportRun, ExportTarget, FxRate
from metasync.models.health import AccountHealthRecord, HealthTenant, page_key
from metasync.models.insights import DailyInsight, InsightLevel, attribution_key, breakdown_key
from metasync.models.leads import Lead, LeadAccessState, LeadForm, LeadPage
from metasync.models.library import (
    AdActivity,
    AdImage,
    AdVideo,
    ChangeRecord,
    CustomAudience,
    CustomConversion,
)
from metasync.models.numbering import WriteSequence
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
from metasync.models.tenant import REBUILT, CurrencyRebuild, TenantSettings, request_rebuild
from metasync.models.upgrades import AppliedUpgrade
from metasync.models.webhooks import WebhookEvent, WebhookStatus

__all__ = [
    "ALL_DOCUMENTS",
    "ENCRYPTED_KINDS",
    "FINAL_AGE",
    "REBUILT",
    "SCOPES",
    "AccountFeatures",
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
    "ConversionArrivals",
    "CurrencyRebuild",
    "CustomAudience",
    "CustomConversion",
    "DailyInsight",
    "EncryptedKind",
    "ExportDeletion",
    "ExportRun",
    "ExportTarget",
    "FeatureStatus",
    "FxRate",
    "HealthTenant",
    "InsightLevel",
    "KindRotation",
    "Lead",
    "LeadAccessState",
    "LeadForm",
    "LeadPage",
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
    "RowValidationError",
    "RunPlan",
    "RunStatus",
    "SyncRun",
    "TenantReport",
    "TenantSettings",
    "UpsertResult",
    "WebhookEvent",
    "WebhookStatus",
    "WriteSequence",
    "as_decimal",
    "attribution_key",
    "aware",
    "breakdown_key",
    "find_connection",
    "page_key",
    "request_rebuild",
    "rotate_all",
    "rotate_kind",
    "upsert_numbered",
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
    CurrencyRebuild,
    OptimizerSettings,
    Recommendation,
    AuditEntry,
    OptimizerStream,
    ConversionArrivals,
    ActionCount,
    ReportRow,
    ReportAccess,
    AccountFeatures,
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
    WriteSequence,
    ExportDeletion,
    LeadPage,
    LeadForm,
    Lead,
)

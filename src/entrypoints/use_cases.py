"""The application's part of the composition root: every use case, from whatever provides the ports.

ioc.py gives it the adapters; the unit tests give it fakes. It imports nothing but dishka and the application,
so the unit tests load no driver.
"""

from __future__ import annotations

from dishka import Provider, Scope, provide, provide_all

from application.accounts import Authenticate, GetAccount, InactiveAccounts, LogIn, RegisterUser
from application.admin import ChangeUser, CreateUser, GetSiteStats, GetUser, ListUsers
from application.aftercare import UploadAftercare
from application.coalescing import Coalescer
from application.dashboard import GetDashboard
from application.duplicates import BackfillChecksums, ListDuplicates
from application.maintenance import (
    ClearEndedUploads,
    ExpireReservations,
    PurgeUnusedUploads,
    RebuildLostQuota,
    ReconcileQuota,
    ResumeUnfinishedWork,
    SweepStuckScores,
    UploadRetirement,
)
from application.processing import (
    DeleteFiles,
    GenerateAllThumbnails,
    GenerateThumbnail,
    MarkPageThumbnailsFailed,
    MarkProcessingFailed,
    ProcessScore,
    ScoreUpdater,
    ThumbnailWriter,
)
from application.scores import (
    CreateScore,
    DeleteScore,
    GetDownloadUrl,
    GetScore,
    ListScores,
    PermanentDeletion,
    RequestCover,
    RequestInfoRefresh,
    RequestPageThumbnails,
    UpdateScore,
)
from application.setlists import (
    AddSetlistItem,
    CreateSetlist,
    DeleteSetlist,
    GetSetlist,
    ListSetlists,
    RemoveSetlistItem,
    ReorderSetlistItems,
    UpdateSetlist,
    UpdateSetlistItem,
)
from application.trash import DeleteFromTrash, EmptyTrash, ListTrash, PurgeTrash, RestoreScore
from application.uploads import CancelUpload, ConfirmUpload, RequestUploadUrl, UploadAcceptsFile, UploadVerifier


class UseCaseProvider(Provider):
    """The application layer: every use case, from whatever provides the ports (the unit tests give fakes)."""

    scope = Scope.REQUEST

    use_cases = provide_all(
        RegisterUser,
        LogIn,
        Authenticate,
        GetAccount,
        ListUsers,
        GetUser,
        ChangeUser,
        CreateUser,
        GetSiteStats,
        RequestUploadUrl,
        UploadAftercare,
        UploadVerifier,
        ConfirmUpload,
        CancelUpload,
        UploadAcceptsFile,
        CreateScore,
        GetScore,
        ListScores,
        UpdateScore,
        PermanentDeletion,
        DeleteScore,
        ListTrash,
        RestoreScore,
        DeleteFromTrash,
        EmptyTrash,
        PurgeTrash,
        RequestInfoRefresh,
        RequestCover,
        RequestPageThumbnails,
        GetDownloadUrl,
        GetDashboard,
        CreateSetlist,
        ListSetlists,
        GetSetlist,
        UpdateSetlist,
        DeleteSetlist,
        AddSetlistItem,
        UpdateSetlistItem,
        RemoveSetlistItem,
        ReorderSetlistItems,
        ScoreUpdater,
        ThumbnailWriter,
        ProcessScore,
        GenerateThumbnail,
        GenerateAllThumbnails,
        MarkProcessingFailed,
        MarkPageThumbnailsFailed,
        DeleteFiles,
        UploadRetirement,
        ExpireReservations,
        PurgeUnusedUploads,
        ClearEndedUploads,
        ReconcileQuota,
        RebuildLostQuota,
        SweepStuckScores,
        ResumeUnfinishedWork,
        ListDuplicates,
        BackfillChecksums,
    )
    # One per process: the deactivated accounts this process knows of, read again now and then.
    inactive_accounts = provide(InactiveAccounts, scope=Scope.APP)
    # One per process: identical score work asked for while it runs is merged into one more run.
    coalescer = provide(Coalescer, scope=Scope.APP)

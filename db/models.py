"""SQLAlchemy 2 models: accounts, problems with test data, submissions, contests."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names so migrations can drop and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use a timezone-aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Role(enum.StrEnum):
    ADMIN = "admin"
    ORGANIZER = "organizer"
    CONTESTANT = "contestant"


class Difficulty(enum.StrEnum):
    EASY = "EASY"
    MEDIUM = "MEDIUM"
    HARD = "HARD"


class SubmissionStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    JUDGING = "JUDGING"
    JUDGED = "JUDGED"


class Verdict(enum.StrEnum):
    AC = "AC"
    WA = "WA"
    TLE = "TLE"
    MLE = "MLE"
    RTE = "RTE"
    OLE = "OLE"
    CE = "CE"
    IE = "IE"


def _enum(enum_type: type[enum.Enum], name: str) -> Enum:
    # Plain strings with a CHECK constraint, so PostgreSQL needs no enum type migrations.
    return Enum(enum_type, name=name, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"), default=Role.CONTESTANT)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    bio: Mapped[str] = mapped_column(Text, default="")
    avatar_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RefreshToken(Base):
    """One issued refresh token; a family is one login's chain of rotations."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Blob(Base):
    """Metadata of a content-addressed file under <data dir>/blobs, keyed by sha256."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Problem(Base):
    __tablename__ = "problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    difficulty: Mapped[Difficulty] = mapped_column(_enum(Difficulty, "problem_difficulty"), default=Difficulty.EASY)
    category: Mapped[str] = mapped_column(String(64), default="", index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    constraints: Mapped[str] = mapped_column(Text, default="")
    examples: Mapped[list[Any]] = mapped_column(default=list)
    time_limit_ms: Mapped[int] = mapped_column(Integer, default=2000)
    memory_limit_mb: Mapped[int] = mapped_column(Integer, default=256)
    output_limit_kb: Mapped[int] = mapped_column(Integer, default=8192)
    # pass-fail, scoring, interactive or function (see judge for each kind).
    problem_type: Mapped[str] = mapped_column(String(16), default="pass-fail")
    checker: Mapped[str] = mapped_column(String(32), default="default")
    checker_flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Visible in the practice archive; contest problems start hidden.
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on every test data change; the judge caches test data by it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    package_meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    test_groups: Mapped[list[TestGroup]] = relationship(
        back_populates="problem", cascade="all, delete-orphan", order_by="TestGroup.position"
    )
    test_cases: Mapped[list[TestCase]] = relationship(
        back_populates="problem", cascade="all, delete-orphan", order_by="TestCase.position"
    )


class TestGroup(Base):
    __test__ = False  # not a pytest test class
    __tablename__ = "test_groups"
    __table_args__ = (UniqueConstraint("problem_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    points: Mapped[float] = mapped_column(Float, default=0.0)
    # testdata.yaml settings of the group (aggregation, accept score, flags).
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)

    problem: Mapped[Problem] = relationship(back_populates="test_groups")
    test_cases: Mapped[list[TestCase]] = relationship(back_populates="group", order_by="TestCase.position")


class TestCase(Base):
    __test__ = False  # not a pytest test class
    __tablename__ = "test_cases"
    __table_args__ = (UniqueConstraint("problem_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("test_groups.id", ondelete="CASCADE"), default=None)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    points: Mapped[float] = mapped_column(Float, default=0.0)
    input_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    answer_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    input_size: Mapped[int] = mapped_column(BigInteger, default=0)
    answer_size: Mapped[int] = mapped_column(BigInteger, default=0)

    problem: Mapped[Problem] = relationship(back_populates="test_cases")
    group: Mapped[TestGroup | None] = relationship(back_populates="test_cases")


class ContestState(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    FROZEN = "frozen"
    ENDED = "ended"
    FINALIZED = "finalized"


class Contest(Base):
    __tablename__ = "contests"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    start_time: Mapped[datetime]
    end_time: Mapped[datetime]
    freeze_time: Mapped[datetime | None] = mapped_column(default=None)
    # Set when an organizer unfreezes before the end; the public board is live again.
    unfrozen_at: Mapped[datetime | None] = mapped_column(default=None)
    state: Mapped[ContestState] = mapped_column(_enum(ContestState, "contest_state"), default=ContestState.DRAFT)
    scoring: Mapped[str] = mapped_column(String(8), default="icpc")
    # open, invite or closed.
    registration: Mapped[str] = mapped_column(String(8), default="open")
    allow_late_registration: Mapped[bool] = mapped_column(Boolean, default=True)
    practice_after_end: Mapped[bool] = mapped_column(Boolean, default=True)
    penalty_minutes: Mapped[int] = mapped_column(Integer, default=20)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    problems: Mapped[list[ContestProblem]] = relationship(
        back_populates="contest", cascade="all, delete-orphan", order_by="ContestProblem.position"
    )


class ContestProblem(Base):
    __tablename__ = "contest_problems"
    __table_args__ = (
        UniqueConstraint("contest_id", "label"),
        UniqueConstraint("contest_id", "problem_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(8))
    points: Mapped[float] = mapped_column(Float, default=1.0)
    position: Mapped[int] = mapped_column(Integer, default=0)

    contest: Mapped[Contest] = relationship(back_populates="problems")
    problem: Mapped[Problem] = relationship()


class ContestOrganizer(Base):
    __tablename__ = "contest_organizers"
    __table_args__ = (UniqueConstraint("contest_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("contest_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    # invited participants exist before they accept; late ones registered after the start.
    status: Mapped[str] = mapped_column(String(16), default="registered")
    is_virtual: Mapped[bool] = mapped_column(Boolean, default=False)
    # Start of a virtual participation, when it differs from the contest start.
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)


class Clarification(Base):
    __tablename__ = "clarifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problems.id", ondelete="SET NULL"), default=None)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    question: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    # True: visible to every participant; false: to the asker and organizers only.
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    is_announcement: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_status", "status"),
        Index("ix_submissions_problem_verdict", "problem_id", "verdict"),
        Index("ix_submissions_contest_created", "contest_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"))
    contest_id: Mapped[int | None] = mapped_column(ForeignKey("contests.id", ondelete="SET NULL"), default=None)
    language: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(Text)
    status: Mapped[SubmissionStatus] = mapped_column(
        _enum(SubmissionStatus, "submission_status"), default=SubmissionStatus.QUEUED
    )
    # The judging whose result the fields below show; rejudges add judgings.
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    verdict: Mapped[Verdict | None] = mapped_column(_enum(Verdict, "submission_verdict"), default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    execution_time_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    memory_used_kb: Mapped[int | None] = mapped_column(Integer, default=None)
    test_cases_passed: Mapped[int | None] = mapped_column(Integer, default=None)
    test_cases_total: Mapped[int | None] = mapped_column(Integer, default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    judged_at: Mapped[datetime | None] = mapped_column(default=None)

    judgings: Mapped[list[Judging]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="Judging.attempt"
    )


class Judging(Base):
    """One judging of a submission; a rejudge adds one and keeps the old ones as history."""

    __tablename__ = "judgings"
    __table_args__ = (
        UniqueConstraint("submission_id", "attempt"),
        # Start-up recovery looks for judgings left QUEUED or JUDGING.
        Index("ix_judgings_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[SubmissionStatus] = mapped_column(
        _enum(SubmissionStatus, "judging_status"), default=SubmissionStatus.QUEUED
    )
    verdict: Mapped[Verdict | None] = mapped_column(_enum(Verdict, "judging_verdict"), default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    execution_time_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    memory_used_kb: Mapped[int | None] = mapped_column(Integer, default=None)
    test_cases_passed: Mapped[int | None] = mapped_column(Integer, default=None)
    test_cases_total: Mapped[int | None] = mapped_column(Integer, default=None)
    compile_output: Mapped[str | None] = mapped_column(Text, default=None)
    # Judge-side failure reason of an IE, for organizers only.
    internal_error: Mapped[str | None] = mapped_column(Text, default=None)
    worker: Mapped[str | None] = mapped_column(String(128), default=None)
    # The worker named in `worker` holds the judging until then and renews it while it
    # runs; after that another worker may take the judging over.
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # Per test-group scores for IOI scoring across submissions.
    group_scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    submission: Mapped[Submission] = relationship(back_populates="judgings")
    test_results: Mapped[list[TestResult]] = relationship(
        back_populates="judging", cascade="all, delete-orphan", order_by="TestResult.position"
    )


class TestResult(Base):
    __test__ = False  # not a pytest test class
    __tablename__ = "test_results"
    __table_args__ = (UniqueConstraint("judging_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    judging_id: Mapped[int] = mapped_column(ForeignKey("judgings.id", ondelete="CASCADE"), index=True)
    test_case_id: Mapped[int | None] = mapped_column(ForeignKey("test_cases.id", ondelete="SET NULL"), default=None)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), default="")
    group: Mapped[str | None] = mapped_column(String(200), default=None)
    verdict: Mapped[Verdict] = mapped_column(_enum(Verdict, "test_verdict"))
    time_ms: Mapped[int] = mapped_column(Integer, default=0)
    wall_ms: Mapped[int] = mapped_column(Integer, default=0)
    memory_kb: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float | None] = mapped_column(Float, default=None)

    judging: Mapped[Judging] = relationship(back_populates="test_results")

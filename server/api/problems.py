"""Routes under /api/v1/problems: the archive, statements with samples, authoring."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Parameter
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import Difficulty, Problem, TestCase, User
from judge.languages import LANGUAGES
from server.deps import is_staff, provide_current_user, provide_optional_user, require_staff
from server.errors import ConflictError
from server.problems import (
    NewTest,
    find_visible_problem,
    problem_in_contest,
    problem_stats,
    store_tests,
    takes_language,
    visibility_clause,
)
from server.settings import LimitsSettings

Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9 +#._-]*$")]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LongText = Annotated[str, msgspec.Meta(max_length=200_000)]
ShortText = Annotated[str, msgspec.Meta(max_length=10_000)]
Tolerance = Annotated[float, msgspec.Meta(ge=0)]


class Example(msgspec.Struct, forbid_unknown_fields=True):
    input: ShortText
    output: ShortText
    explanation: ShortText = ""


class CheckerFlags(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Options of the Kattis default output validator."""

    case_sensitive: bool = False
    space_change_sensitive: bool = False
    float_absolute_tolerance: Tolerance | None = None
    float_relative_tolerance: Tolerance | None = None
    float_tolerance: Tolerance | None = None


class TestIn(msgspec.Struct, forbid_unknown_fields=True):
    __test__ = False  # not a pytest test class

    input: str
    output: str
    is_sample: bool = False
    points: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    group: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_./-]+$")] | None = None


class ProblemCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    slug: Slug | None = None
    description: LongText = ""
    difficulty: Difficulty = Difficulty.EASY
    category: Annotated[str, msgspec.Meta(max_length=64)] = ""
    tags: Annotated[list[Tag], msgspec.Meta(max_length=20)] = []
    constraints: ShortText = ""
    examples: Annotated[list[Example], msgspec.Meta(max_length=20)] = []
    time_limit_ms: Annotated[int, msgspec.Meta(ge=1)] = 2000
    memory_limit_mb: Annotated[int, msgspec.Meta(ge=16)] = 256
    output_limit_kb: Annotated[int, msgspec.Meta(ge=1)] = 8192
    checker: Literal["default", "exact"] = "default"
    checker_flags: CheckerFlags = CheckerFlags()
    is_public: bool = True
    tests: Annotated[list[TestIn], msgspec.Meta(max_length=1000)] = []


class ProblemUpdate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title | msgspec.UnsetType = msgspec.UNSET
    slug: Slug | msgspec.UnsetType = msgspec.UNSET
    description: LongText | msgspec.UnsetType = msgspec.UNSET
    difficulty: Difficulty | msgspec.UnsetType = msgspec.UNSET
    category: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType = msgspec.UNSET
    tags: Annotated[list[Tag], msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    constraints: ShortText | msgspec.UnsetType = msgspec.UNSET
    examples: Annotated[list[Example], msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    time_limit_ms: Annotated[int, msgspec.Meta(ge=1)] | msgspec.UnsetType = msgspec.UNSET
    memory_limit_mb: Annotated[int, msgspec.Meta(ge=16)] | msgspec.UnsetType = msgspec.UNSET
    output_limit_kb: Annotated[int, msgspec.Meta(ge=1)] | msgspec.UnsetType = msgspec.UNSET
    checker: Literal["default", "exact"] | msgspec.UnsetType = msgspec.UNSET
    checker_flags: CheckerFlags | msgspec.UnsetType = msgspec.UNSET
    is_public: bool | msgspec.UnsetType = msgspec.UNSET


class TestsReplace(msgspec.Struct, forbid_unknown_fields=True):
    tests: Annotated[list[TestIn], msgspec.Meta(max_length=1000)]


class ProblemSummary(msgspec.Struct):
    id: int
    slug: str
    title: str
    difficulty: str
    category: str
    tags: list[str]
    time_limit_ms: int
    memory_limit_mb: int
    is_public: bool
    acceptance_rate: float
    solver_count: int


class Sample(msgspec.Struct):
    name: str
    input: str
    output: str


class TestInfo(msgspec.Struct):
    """Test metadata for organizers; file contents are never part of a problem response."""

    __test__ = False  # not a pytest test class

    id: int
    name: str
    position: int
    group: str | None
    is_sample: bool
    points: float
    input_size: int
    answer_size: int


class ProblemDetail(ProblemSummary):
    description: str
    constraints: str
    examples: list[Example]
    output_limit_kb: int
    problem_type: str
    checker: str
    checker_flags: dict
    # CPU time limit per language that the problem takes and the judge has enabled: time_limit_ms times the multiplier.
    time_limits_ms: dict[str, int]
    version: int
    samples: list[Sample]
    test_count: int
    created_at: datetime
    updated_at: datetime
    tests: list[TestInfo] | None = None


class ProblemPage(msgspec.Struct):
    items: list[ProblemSummary]
    total: int
    page: int
    per_page: int


def _field_error(field: str, message: str) -> ValidationException:
    return ValidationException(f"invalid field {field}: {message}", extra=[{"key": field, "message": message, "source": "body"}])


def check_limits(data: ProblemCreate | ProblemUpdate, limits: LimitsSettings) -> None:
    """Check the upper bounds, which come from the operator's settings rather than the schema."""
    bounds = {
        "time_limit_ms": limits.max_time_limit_ms,
        "memory_limit_mb": limits.max_memory_limit_mb,
        "output_limit_kb": limits.max_output_limit_kb,
    }
    for field, maximum in bounds.items():
        value = getattr(data, field)
        if isinstance(value, int) and value > maximum:
            raise _field_error(field, f"must be at most {maximum}, got {value}")


def decode_tests(tests: list[TestIn], limits: LimitsSettings) -> list[NewTest]:
    decoded = []
    for index, test in enumerate(tests):
        for field in ("input", "output"):
            size = len(getattr(test, field).encode())
            if size > limits.max_test_bytes:
                raise _field_error(f"tests[{index}].{field}", f"is {size} bytes, the maximum is {limits.max_test_bytes}")
        decoded.append(
            NewTest(
                input=test.input.encode(),
                answer=test.output.encode(),
                is_sample=test.is_sample,
                points=test.points,
                group=test.group,
            )
        )
    return decoded


def slug_from_title(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:64].strip("-")
    return slug or "problem"


async def _read_samples(state: State, problem: Problem, tests: list[TestCase]) -> list[Sample]:
    def read() -> list[Sample]:
        return [
            Sample(
                name=test.name,
                input=state.blobs.read_bytes(test.input_sha256).decode(errors="replace"),
                output=state.blobs.read_bytes(test.answer_sha256).decode(errors="replace"),
            )
            for test in tests
            if test.is_sample
        ]

    return await asyncio.to_thread(read)


def _summary_fields(problem: Problem, stats) -> dict:
    return {
        "id": problem.id,
        "slug": problem.slug,
        "title": problem.title,
        "difficulty": problem.difficulty.value,
        "category": problem.category,
        "tags": list(problem.tags),
        "time_limit_ms": problem.time_limit_ms,
        "memory_limit_mb": problem.memory_limit_mb,
        "is_public": problem.is_public,
        "acceptance_rate": stats.acceptance_rate if stats else 0.0,
        "solver_count": stats.solvers if stats else 0,
    }


async def problem_detail(state: State, session: AsyncSession, problem_id: int, user: User | None) -> ProblemDetail:
    problem = await session.scalar(
        select(Problem)
        .where(Problem.id == problem_id)
        .options(selectinload(Problem.test_cases).selectinload(TestCase.group))
        .execution_options(populate_existing=True)
    )
    assert problem is not None
    stats = (await problem_stats(session, [problem.id])).get(problem.id)
    samples = await _read_samples(state, problem, problem.test_cases)
    tests = None
    if is_staff(user):
        tests = [
            TestInfo(
                id=test.id,
                name=test.name,
                position=test.position,
                group=test.group.name if test.group else None,
                is_sample=test.is_sample,
                points=test.points,
                input_size=test.input_size,
                answer_size=test.answer_size,
            )
            for test in problem.test_cases
        ]
    return ProblemDetail(
        **_summary_fields(problem, stats),
        description=problem.description,
        constraints=problem.constraints,
        examples=msgspec.convert(problem.examples, list[Example]),
        output_limit_kb=problem.output_limit_kb,
        problem_type=problem.problem_type,
        checker=problem.checker,
        checker_flags=dict(problem.checker_flags),
        time_limits_ms={
            language.id: language.time_limit_ms(problem.time_limit_ms)
            for language in LANGUAGES
            if language.id not in state.settings.judge.disabled_languages and takes_language(problem, language.id)
        },
        version=problem.version,
        samples=samples,
        test_count=len(problem.test_cases),
        created_at=problem.created_at,
        updated_at=problem.updated_at,
        tests=tests,
    )


async def find_problem(session: AsyncSession, problem_key: str) -> Problem:
    """Find any problem by id or slug, for organizers."""
    key = Problem.id == int(problem_key) if problem_key.isdigit() else Problem.slug == problem_key.lower()
    problem = await session.scalar(select(Problem).where(key))
    if problem is None:
        raise NotFoundException(f"problem {problem_key!r} not found")
    return problem


class ProblemsController(Controller):
    path = "/api/v1/problems"
    tags = ["problems"]

    @get("/", dependencies={"current_user": Provide(provide_optional_user)})
    async def list_problems(
        self,
        db_session: AsyncSession,
        current_user: User | None,
        difficulty: Difficulty | None = None,
        category: Annotated[str | None, Parameter(max_length=64)] = None,
        tag: Annotated[str | None, Parameter(max_length=32)] = None,
        q: Annotated[str | None, Parameter(max_length=100)] = None,
        page: Annotated[int, Parameter(ge=1, le=100000)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> ProblemPage:
        query = select(Problem)
        if not is_staff(current_user):
            query = query.where(visibility_clause(current_user))
        if difficulty is not None:
            query = query.where(Problem.difficulty == difficulty)
        if category:
            query = query.where(func.lower(Problem.category) == category.lower())
        if tag:
            # Tags are stored as a JSON list of plain words, so matching the quoted word is exact.
            query = query.where(cast(Problem.tags, String).like(f'%"{tag.lower()}"%'))
        if q:
            pattern = f"%{q}%"
            query = query.where(or_(Problem.title.ilike(pattern), Problem.description.ilike(pattern)))

        total = await db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
        problems = (await db_session.scalars(query.order_by(Problem.id).offset((page - 1) * per_page).limit(per_page))).all()
        stats = await problem_stats(db_session, [problem.id for problem in problems])
        items = [ProblemSummary(**_summary_fields(problem, stats.get(problem.id))) for problem in problems]
        return ProblemPage(items, total, page, per_page)

    @get("/{id_or_slug:str}", dependencies={"current_user": Provide(provide_optional_user)})
    async def get_problem(
        self, id_or_slug: str, state: State, db_session: AsyncSession, current_user: User | None
    ) -> ProblemDetail:
        problem = await find_visible_problem(db_session, current_user, id_or_slug)
        if problem is None:
            raise NotFoundException(f"problem {id_or_slug!r} not found")
        return await problem_detail(state, db_session, problem.id, current_user)

    @post("/", status_code=201, dependencies={"current_user": Provide(provide_current_user)})
    async def create_problem(
        self, data: ProblemCreate, state: State, db_session: AsyncSession, current_user: User
    ) -> ProblemDetail:
        require_staff(current_user)
        check_limits(data, state.settings.limits)
        tests = decode_tests(data.tests, state.settings.limits)
        slug = data.slug or slug_from_title(data.title)
        if await db_session.scalar(select(Problem.id).where(Problem.slug == slug)) is not None:
            raise ConflictError(f"slug {slug!r} is already used by another problem", extra={"field": "slug"})

        problem = Problem(
            slug=slug,
            title=data.title,
            description=data.description,
            difficulty=data.difficulty,
            category=data.category,
            tags=sorted({tag.lower() for tag in data.tags}),
            constraints=data.constraints,
            examples=msgspec.to_builtins(data.examples),
            time_limit_ms=data.time_limit_ms,
            memory_limit_mb=data.memory_limit_mb,
            output_limit_kb=data.output_limit_kb,
            checker=data.checker,
            checker_flags=msgspec.to_builtins(data.checker_flags),
            is_public=data.is_public,
            author_id=current_user.id,
            version=0,
        )
        db_session.add(problem)
        await db_session.flush()
        await store_tests(db_session, state.blobs, problem, tests)
        await db_session.commit()
        return await problem_detail(state, db_session, problem.id, current_user)

    @patch("/{problem_key:str}", dependencies={"current_user": Provide(provide_current_user)})
    async def update_problem(
        self, problem_key: str, data: ProblemUpdate, state: State, db_session: AsyncSession, current_user: User
    ) -> ProblemDetail:
        require_staff(current_user)
        check_limits(data, state.settings.limits)
        problem = await find_problem(db_session, problem_key)
        if data.slug is not msgspec.UNSET and data.slug != problem.slug:
            if await db_session.scalar(select(Problem.id).where(Problem.slug == data.slug)) is not None:
                raise ConflictError(f"slug {data.slug!r} is already used by another problem", extra={"field": "slug"})

        for field in msgspec.structs.fields(ProblemUpdate):
            value = getattr(data, field.name)
            if value is msgspec.UNSET:
                continue
            if field.name == "tags":
                value = sorted({tag.lower() for tag in value})
            elif field.name in ("examples", "checker_flags"):
                value = msgspec.to_builtins(value)
            setattr(problem, field.name, value)
        await db_session.commit()
        return await problem_detail(state, db_session, problem.id, current_user)

    @put("/{problem_key:str}/tests", dependencies={"current_user": Provide(provide_current_user)})
    async def replace_tests(
        self, problem_key: str, data: TestsReplace, state: State, db_session: AsyncSession, current_user: User
    ) -> ProblemDetail:
        require_staff(current_user)
        problem = await find_problem(db_session, problem_key)
        await store_tests(db_session, state.blobs, problem, decode_tests(data.tests, state.settings.limits))
        await db_session.commit()
        return await problem_detail(state, db_session, problem.id, current_user)

    @delete("/{problem_key:str}", status_code=204, dependencies={"current_user": Provide(provide_current_user)})
    async def delete_problem(self, problem_key: str, db_session: AsyncSession, current_user: User) -> None:
        require_staff(current_user)
        problem = await find_problem(db_session, problem_key)
        if await problem_in_contest(db_session, problem.id):
            raise ConflictError("the problem is part of a contest; remove it from the contest first")
        await db_session.delete(problem)
        await db_session.commit()

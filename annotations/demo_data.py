"""Synthetic, deterministic demo data for the "devot-rag" developer-community assistant.

Pure standard library (no Django), so the same data can feed the ingestion API, the demo
seeding command and tests. The story it tells: prompt "devot-rag" goes v1 -> v2 -> v3 over
the 30 days, a Korean-only prompt "devot-rag-ko" runs in beta, newer versions produce fewer
flawed answers, end users down-vote the flawed ones, and two reviewers have labeled some
answers with the default RAG rubric, correcting the flawed ones.

The tables are plain-text blocks (one record per line, `\\n` for newlines) so that the
formatter keeps them compact and the prose stays readable.
"""

from __future__ import annotations

import datetime
import json
import random
import re
from typing import NamedTuple

__all__ = ["demo_conversations", "demo_feedback", "demo_labels"]


class Flaw(NamedTuple):
    kind: str  # incorrect | outdated | not_grounded | harmful | wrong_language (+ generic kinds)
    answer: str
    comment: str  # what an annoyed user would write, in the conversation's language


class Topic(NamedTuple):
    key: str
    lang: str
    tag: str
    question: str
    docs: tuple[str, ...]
    answer: str
    flaws: tuple[Flaw, ...] = ()
    follow: tuple[str, str] | None = None  # (follow-up question, its answer)


# key | tag | title | url | paragraph. Context ids are "doc-<line number>", stable across runs.
_DOCS = r"""
celery-workers | celery | Workers Guide | https://docs.example.dev/celery/userguide/workers | A worker only consumes from the queues it is told to listen on. By default that is the single queue named `celery`; start workers with `-Q` to consume other queues. If tasks are routed to a queue no worker listens on, messages accumulate in the broker and are never executed. Use `celery -A proj inspect active_queues` to see which queues each worker consumes.
celery-routing | celery | Routing Tasks | https://docs.example.dev/celery/userguide/routing | The `task_routes` setting maps task names to queues, e.g. `{'proj.tasks.send_email': {'queue': 'email'}}`. Routes are matched by the registered task name, so moving a task to another module silently changes where it goes. Automatic queue creation (`task_create_missing_queues`) is enabled by default.
celery-redis | celery | Using Redis as a broker | https://docs.example.dev/celery/getting-started/backends-and-brokers/redis | Configure the broker with `broker_url = 'redis://localhost:6379/0'`. With Redis, the visibility timeout (default one hour) defines how long a message may stay unacknowledged before it is redelivered to another worker. Tasks with an ETA or countdown longer than the visibility timeout will be executed more than once; raise `broker_transport_options = {'visibility_timeout': 43200}` if you rely on long ETAs.
celery-retry | celery | Tasks: Retrying | https://docs.example.dev/celery/userguide/tasks#retrying | `Task.retry()` re-sends the task with the same arguments. Use `autoretry_for=(SomeError,)` on the decorator to retry automatically, `retry_backoff=True` for exponential backoff (1s, 2s, 4s, ... capped by `retry_backoff_max`, default 600 seconds) and `retry_jitter=True` (the default) to randomize delays. `max_retries` defaults to 3.
celery-acks-late | celery | Tasks: acks_late | https://docs.example.dev/celery/userguide/tasks#acks-late | By default a message is acknowledged just before the task is executed, so a worker crash mid-task loses the task. With `task_acks_late = True` the message is acknowledged after the task returns, which means the task may run twice; only enable it for idempotent tasks. `task_reject_on_worker_lost = True` re-queues tasks whose worker process was killed.
celery-beat | celery | Periodic Tasks | https://docs.example.dev/celery/userguide/periodic-tasks | celery beat is a scheduler: it sends tasks at regular intervals, which are then executed by the available workers. Only a single beat instance may run for a given schedule, otherwise every task is sent once per running scheduler. Beat can be embedded in a worker with `-B`, which is convenient in development but must not be used when running more than one worker.
ko-wiki-celery | celery | Celery 운영 가이드 (사내 위키) | https://wiki.example.dev/ko/celery-ops | 운영 환경에서는 beat를 워커와 분리된 단일 Deployment(replicas: 1)로 띄웁니다. 워커에 `-B` 옵션을 붙이면 워커 수만큼 beat가 떠서 주기 작업이 중복 실행됩니다. django-celery-beat를 쓰는 경우 스케줄은 DB에 저장되며 `--scheduler django_celery_beat.schedulers:DatabaseScheduler`로 실행합니다.
django-related | django | QuerySet API: select_related / prefetch_related | https://docs.example.dev/django/ref/models/querysets#select-related | `select_related()` follows foreign-key and one-to-one relationships with a SQL JOIN, so related objects come back in the same query. `prefetch_related()` does a separate lookup for each relationship and joins the results in Python, which makes it usable for many-to-many and reverse foreign keys. Use `Prefetch()` objects to filter the prefetched queryset.
django-db-opt | django | Database access optimization | https://docs.example.dev/django/topics/db/optimization | Use django-debug-toolbar or `connection.queries` to find repeated queries. Accessing a related object inside a loop triggers one query per iteration (the N+1 problem). `QuerySet.explain()` shows the database's query plan, and large OFFSET values get slower the deeper you page.
django-migrations | django | Migrations | https://docs.example.dev/django/topics/migrations | If two branches add migrations to the same app, `migrate` fails with 'Conflicting migrations detected; multiple leaf nodes in the migration graph'. Run `python manage.py makemigrations --merge` to create a merge migration that depends on both leaves. Never edit a migration that has already been applied in production; add a new one instead.
django-tz | django | Time zones | https://docs.example.dev/django/topics/i18n/timezones | When `USE_TZ = True` (the default since Django 5.0), Django stores datetimes in UTC in the database and converts them to the current time zone in templates and forms. `TIME_ZONE` sets the default current time zone. In Python code, use `django.utils.timezone.now()` instead of `datetime.now()`, and `timezone.localtime()` to convert an aware datetime.
django-async | django | Asynchronous support | https://docs.example.dev/django/topics/async | Async views can use the ORM's async interface: `aget()`, `acreate()`, `afirst()` and `async for` over querysets (Django 4.1+). Transactions do not yet work in async mode; put such code in a sync function and call it with `sync_to_async()`. Calling synchronous ORM methods from async code raises `SynchronousOnlyOperation`. `DJANGO_ALLOW_ASYNC_UNSAFE` disables the check and is meant for environments like Jupyter only.
django-custom-user | django | Substituting a custom User model | https://docs.example.dev/django/topics/auth/customizing#substituting-a-custom-user-model | If you're starting a new project, set up a custom user model even if the default User model is sufficient. Changing `AUTH_USER_MODEL` after you've created database tables is significantly more difficult since it affects foreign keys and many-to-many relationships; it is not supported by `makemigrations` and requires manual fixing of your schema.
django-conn | django | Databases: persistent connections | https://docs.example.dev/django/ref/databases#persistent-connections | `CONN_MAX_AGE` controls how long a connection is kept open (0 closes it at the end of each request, `None` means unlimited). Each worker thread holds its own connection, so the total is roughly processes x threads. Django 5.1 adds connection pooling for PostgreSQL via the `pool` key in `OPTIONS` (psycopg 3 only). Behind PgBouncer in transaction mode, set `DISABLE_SERVER_SIDE_CURSORS = True`.
drf-pagination | django | DRF API Guide: Pagination | https://docs.example.dev/drf/api-guide/pagination | `CursorPagination` exposes an opaque cursor and requires a unique, unchanging ordering field, by default `-created`. It gives consistent results when items are inserted while a client pages through, and performs well on large datasets because it does not use OFFSET. `PageNumberPagination` allows jumping to arbitrary pages but degrades with large offsets.
k8s-debug-pods | k8s | Debug Running Pods | https://docs.example.dev/k8s/tasks/debug/debug-application/debug-running-pod | Use `kubectl describe pod <name>` to see events and the last state of each container, including the exit code and reason (for example `OOMKilled`). `kubectl logs <pod> --previous` prints logs from the previous, crashed instance of a container. CrashLoopBackOff means the container keeps exiting and the kubelet backs off restarts, up to five minutes.
k8s-resources | k8s | Resource Management for Pods and Containers | https://docs.example.dev/k8s/concepts/configuration/manage-resources-containers | A container that exceeds its memory limit is terminated by the OOM killer and reported with reason OOMKilled (exit code 137). CPU limits are enforced by throttling, not by killing. The scheduler uses requests, not limits, to place Pods.
k8s-probes | k8s | Liveness, Readiness and Startup Probes | https://docs.example.dev/k8s/tasks/configure-pod-container/configure-liveness-readiness-startup-probes | The kubelet uses liveness probes to know when to restart a container, and readiness probes to know when a container can accept traffic; a Pod that is not ready is removed from Service endpoints but not restarted. Startup probes hold off the other probes until a slow application has started. Liveness probes that check shared dependencies such as the database can cause cascading restarts.
k8s-hpa | k8s | Horizontal Pod Autoscaling | https://docs.example.dev/k8s/tasks/run-application/horizontal-pod-autoscale | The HPA controller reads metrics from the resource metrics API, usually served by metrics-server. CPU utilization is computed as a percentage of the container's resource request, so if any container in the Pod has no CPU request, the HPA cannot compute utilization for that metric and will not scale. `kubectl describe hpa` shows conditions such as `FailedGetResourceMetric`.
k8s-secrets | k8s | Secrets | https://docs.example.dev/k8s/concepts/configuration/secret | Kubernetes Secrets are, by default, stored unencrypted in the API server's underlying data store (etcd). Values in a Secret manifest are only base64-encoded, which is not encryption. Enable encryption at rest, restrict access with RBAC, and consider an external store via the External Secrets Operator or the Secrets Store CSI Driver.
k8s-configmap | k8s | ConfigMaps | https://docs.example.dev/k8s/concepts/configuration/configmap | Mounted ConfigMaps are updated automatically, with a delay of up to the kubelet sync period plus the cache TTL. ConfigMaps consumed as environment variables are not updated automatically and require a Pod restart. A container using a ConfigMap as a `subPath` volume mount will not receive updates.
k8s-rollout | k8s | Deployments: Rolling Update | https://docs.example.dev/k8s/concepts/workloads/controllers/deployment#rolling-update-deployment | `maxUnavailable` and `maxSurge` control how many Pods may be unavailable, or created above the desired count, during an update. New Pods receive traffic only after their readiness probe passes. A terminating Pod receives SIGTERM while it is being removed from endpoints, so a short `preStop` sleep lets in-flight and late-routed requests finish before the process exits.
ko-wiki-k8s | k8s | 쿠버네티스 배포 체크리스트 (사내 위키) | https://wiki.example.dev/ko/k8s-checklist | 모든 컨테이너에 requests/limits를 설정합니다. HPA를 쓰려면 사이드카를 포함한 모든 컨테이너에 CPU requests가 있어야 합니다. 환경변수로 주입한 ConfigMap은 변경해도 자동 반영되지 않으므로 `kubectl rollout restart deployment/<name>`으로 재시작합니다.
pg-indexes | postgres | Index Types | https://docs.example.dev/postgres/indexes-types | B-tree indexes can serve `LIKE` only when the pattern is anchored at the beginning, such as `col LIKE 'foo%'`, and the database uses the C collation or the index uses the `text_pattern_ops` operator class. Unanchored patterns like `'%foo%'` cannot use a B-tree index; use a GIN index with the pg_trgm extension instead.
pg-trgm | postgres | pg_trgm: trigram matching | https://docs.example.dev/postgres/pgtrgm | The pg_trgm module provides index operator classes for fast similarity and pattern searches, including `LIKE`, `ILIKE`, `~` and `~*`. Example: `CREATE INDEX trgm_idx ON test USING GIN (t gin_trgm_ops);`. Patterns from which no trigram can be extracted, such as very short search strings, degrade to a full index scan.
pg-explain | postgres | Using EXPLAIN | https://docs.example.dev/postgres/using-explain | `EXPLAIN ANALYZE` executes the statement and shows actual row counts and timings for each plan node. A sequential scan on a large table in a selective query often means no usable index exists or the statistics are stale; run `ANALYZE` to refresh them.
pg-vacuum | postgres | Routine Vacuuming | https://docs.example.dev/postgres/routine-vacuuming | UPDATE and DELETE leave dead row versions that are reclaimed by VACUUM. Plain VACUUM makes the space reusable within the table but usually does not return it to the operating system. `VACUUM FULL` rewrites the table and returns the space, but holds an ACCESS EXCLUSIVE lock for the duration. Autovacuum can be tuned per table, e.g. `autovacuum_vacuum_scale_factor`.
pg-jsonb | postgres | JSON Types: jsonb Indexing | https://docs.example.dev/postgres/datatype-json#JSON-INDEXING | GIN indexes can efficiently search for keys or key/value pairs in jsonb. The default operator class `jsonb_ops` supports `?`, `?|`, `?&`, `@>` and the jsonpath operators; `jsonb_path_ops` supports fewer operators but is smaller and faster. A GIN index does not help `data->>'status' = 'active'`; use an expression index on `(data->>'status')` for that.
pg-connections | postgres | Connections and Authentication: max_connections | https://docs.example.dev/postgres/runtime-config-connection | `max_connections` sets the maximum number of concurrent connections (typically 100). Each connection is served by its own backend process, so raising it costs memory. When the limit is reached, clients get `FATAL: sorry, too many clients already`. For many short-lived clients, put a pooler such as PgBouncer in front.
redis-eviction | redis | Key eviction | https://docs.example.dev/redis/reference/eviction | When `maxmemory` is reached, Redis applies the `maxmemory-policy`. The default `noeviction` rejects writes with an OOM error. `allkeys-lru` evicts the least recently used keys among all keys and suits caches; `volatile-lru` evicts only keys that have a TTL.
redis-expire | redis | EXPIRE | https://docs.example.dev/redis/commands/expire | Set a timeout on a key; after it expires the key is deleted automatically. The timeout is cleared by commands that overwrite the value, such as `SET` without `KEEPTTL`. `SET key value NX PX 30000` sets a value and expiry atomically, only if the key does not exist.
redis-lock | redis | Distributed locks with Redis | https://docs.example.dev/redis/manual/patterns/distributed-locks | The simplest lock is `SET resource_name my_random_value NX PX 30000`. Release it with a Lua script that deletes the key only if the value matches, so a client never removes a lock held by someone else. Without an expiry, a client that crashes while holding the lock blocks everyone forever.
redis-streams | redis | Redis Streams | https://docs.example.dev/redis/data-types/streams | Unlike Pub/Sub, where messages are fire-and-forget, streams persist entries and support consumer groups with acknowledgements (`XREADGROUP`, `XACK`). Entries delivered but not acknowledged stay pending and can be claimed by another consumer with `XAUTOCLAIM`.
redis-pubsub | redis | Pub/Sub | https://docs.example.dev/redis/manual/pubsub | Redis Pub/Sub has at-most-once delivery semantics: a message is delivered once if at all. If a subscriber is disconnected or cannot keep up, the message is lost; it is not stored, not even with persistence enabled. For durable delivery use Streams.
docker-multistage | docker | Multi-stage builds | https://docs.example.dev/docker/build/building/multi-stage | With multi-stage builds you use multiple FROM statements in your Dockerfile. Each FROM can use a different base, and you selectively copy artifacts from one stage to another with `COPY --from=<stage>`, leaving compilers and build caches behind in the final image.
docker-best | docker | Dockerfile best practices | https://docs.example.dev/docker/build/building/best-practices | Use a `.dockerignore` file to exclude files not needed for the build. Choose a minimal base such as a `-slim` variant; musl-based Alpine images may need to compile Python wheels from source. Copy dependency manifests and install them before copying the source to maximize layer cache reuse, and clean `/var/lib/apt/lists/*` in the same RUN.
docker-network | docker | Networking in Compose | https://docs.example.dev/docker/compose/networking | By default Compose sets up a single network for your app. Each service's container joins it and is reachable by other containers at a hostname identical to the service name. Inside a container, `localhost` refers to the container itself, not the host or other services.
docker-startup | docker | Control startup order in Compose | https://docs.example.dev/docker/compose/startup-order | `depends_on` controls start order only. To wait until a dependency is ready, define a `healthcheck` on it and use `depends_on: {db: {condition: service_healthy}}`; Compose then waits for the health check to pass before starting the dependent service.
py-asyncio-thread | python | asyncio: Running in Threads | https://docs.example.dev/python/library/asyncio-task#running-in-threads | `asyncio.to_thread(func, /, *args, **kwargs)` runs func in a separate thread and returns a coroutine to await. It is intended for I/O-bound functions that would otherwise block the event loop (added in Python 3.9). For CPU-bound work, use `loop.run_in_executor()` with a `ProcessPoolExecutor`.
py-asyncio-dev | python | Developing with asyncio | https://docs.example.dev/python/library/asyncio-dev | Blocking (CPU-bound or synchronous I/O) code must not be called directly from a coroutine: it blocks the event loop and no other task can run. In debug mode (`PYTHONASYNCIODEBUG=1`) asyncio logs callbacks that take longer than 100 ms.
py-venv | python | venv: creation of virtual environments | https://docs.example.dev/python/library/venv | Create an environment with `python -m venv .venv` and activate it with `source .venv/bin/activate`; then `python` and `pip` refer to the environment's interpreter. A `pip` from another interpreter installs packages elsewhere; `python -m pip install ...` guarantees the packages go to the interpreter you actually run.
py-dataclasses | python | dataclasses | https://docs.example.dev/python/library/dataclasses | The `@dataclass` decorator generates `__init__`, `__repr__` and `__eq__` from class annotations. Annotations are not enforced at runtime. Use `frozen=True` for immutable instances and `slots=True` (Python 3.10+) to reduce memory.
pydantic-models | python | Pydantic: Models | https://docs.example.dev/pydantic/concepts/models | Pydantic models validate and coerce input data at runtime based on type annotations and raise `ValidationError` with detailed errors. Use `model_validate()` to parse dicts and `model_dump()` or `model_dump_json()` to serialize. In v2 the core validation is implemented in Rust (pydantic-core).
py-multiprocessing | python | multiprocessing: process-based parallelism | https://docs.example.dev/python/library/multiprocessing | The multiprocessing package side-steps the Global Interpreter Lock by using subprocesses instead of threads, which lets CPU-bound work use multiple cores. `concurrent.futures.ProcessPoolExecutor` offers a higher-level interface. Arguments and return values must be picklable.
rag-chunking | llm | RAG Handbook: Chunking strategies | https://docs.example.dev/rag-handbook/chunking | Chunk size trades precision for context: small chunks (200-400 tokens) match specific questions better but lose surrounding context, large chunks (800-1200 tokens) keep context but dilute the embedding. A 10-20% overlap keeps answers from being split across boundaries. Splitting on structure (headings, paragraphs, code blocks) usually beats fixed-size splitting.
rag-eval | llm | RAG Handbook: Evaluating RAG pipelines | https://docs.example.dev/rag-handbook/evaluation | Evaluate retrieval and generation separately. For retrieval, measure recall@k and MRR on labeled question-passage pairs. For generation, measure faithfulness (is every claim supported by the retrieved context?) and answer relevance. LLM-as-judge scores should be calibrated against a sample of human labels; n-gram metrics like BLEU do not measure faithfulness.
rag-rerank | llm | RAG Handbook: Reranking | https://docs.example.dev/rag-handbook/reranking | A bi-encoder embeds queries and documents independently, which is fast but coarse. A cross-encoder reranker scores each (query, passage) pair jointly and is far more accurate, but too slow for the whole corpus. Common pattern: retrieve 50-100 candidates with BM25 and/or embeddings, rerank, and pass the top 3-8 to the LLM.
rag-hybrid | llm | RAG Handbook: Hybrid search | https://docs.example.dev/rag-handbook/hybrid-search | Dense embeddings capture paraphrases but miss exact identifiers such as error codes, function names and version numbers; BM25 handles those well. Hybrid search runs both and merges the rankings, commonly with Reciprocal Rank Fusion (RRF). For Korean, BM25 needs a morphological analyzer (e.g. Nori or MeCab-ko) rather than whitespace tokenization.
ko-wiki-embedding | llm | 한국어 임베딩 모델 비교 (사내 위키) | https://wiki.example.dev/ko/embedding-models | 영어 위주로 학습된 임베딩 모델은 한국어 질의에서 recall이 눈에 띄게 떨어집니다. 사내 평가셋 기준으로 다국어 모델(multilingual-e5-large, bge-m3)이 recall@5에서 15~20%p 높았습니다. 한국어와 영어 문서가 섞여 있다면 다국어 모델을 기본으로 쓰고, 식별자 검색은 BM25로 보완하세요.
llm-injection | llm | LLM Security: Prompt injection | https://docs.example.dev/llm-security/prompt-injection | Prompt injection happens when untrusted input, such as a retrieved web page or an uploaded document, contains instructions the model follows. No prompt wording fully prevents it. Mitigations: treat model output as untrusted, give tools least privilege, require human confirmation for side-effecting actions, delimit untrusted content, and block exfiltration channels such as markdown images with external URLs.
llm-structured | llm | LLM API: Structured outputs | https://docs.example.dev/llm-api/structured-outputs | Structured outputs constrain the model to JSON that conforms to a supplied JSON Schema: `response_format={'type': 'json_schema', 'json_schema': {'name': ..., 'schema': ..., 'strict': True}}`. JSON mode (`{'type': 'json_object'}`) only guarantees valid JSON, not schema adherence. The legacy `functions`/`function_call` parameters are deprecated in favor of `tools`.
llm-sampling | llm | LLM API: Sampling parameters | https://docs.example.dev/llm-api/sampling | `temperature` controls randomness; lower values make output more deterministic. A lower temperature reduces variance but does not by itself prevent hallucination: the most likely continuation is not necessarily a correct one. Grounding in retrieved sources, allowing 'I don't know' and requiring citations are more effective.
llm-tokens | llm | LLM API: Counting tokens | https://docs.example.dev/llm-api/tokens | Models process text as tokens. For OpenAI models, `tiktoken` counts tokens locally: `enc = tiktoken.encoding_for_model('gpt-4o'); len(enc.encode(text))`. The context window covers both input and generated output, so leave room for `max_tokens`. Korean and other non-Latin scripts usually need more tokens than English for the same content.
git-reflog | git | git-reflog | https://docs.example.dev/git/docs/git-reflog | Reference logs record when the tips of branches and other references were updated in the local repository. After a bad rebase or reset, `git reflog` shows previous positions of HEAD such as `HEAD@{5}`; `git reset --hard HEAD@{5}` or `git branch rescue HEAD@{5}` restores them. Unreachable commits are kept until garbage collection, by default at least 30 days.
git-revert | git | git-revert | https://docs.example.dev/git/docs/git-revert | `git revert <commit>` creates a new commit that undoes the changes of an existing one; it does not rewrite history and is safe for commits already pushed to a shared branch. For a merge commit, pass `-m 1` to choose the mainline parent. `git reset` moves the branch pointer and rewrites history, which requires a force push and disrupts everyone who pulled.
react-strictmode | react | React Reference: <StrictMode> | https://docs.example.dev/react/reference/react/StrictMode | In development, Strict Mode runs an extra setup+cleanup cycle for every Effect and renders components twice, to surface bugs caused by missing cleanup or impure rendering. This is development-only behavior and does not happen in production builds.
react-effects | react | Synchronizing with Effects | https://docs.example.dev/react/learn/synchronizing-with-effects | The right question isn't how to run an Effect once, but how to fix the Effect so it works after remounting. Usually the answer is a cleanup function: abort a fetch with AbortController or ignore stale responses with a flag.
react-state | react | State as a Snapshot | https://docs.example.dev/react/learn/state-as-a-snapshot | Setting state only changes it for the next render. Inside an event handler, a state variable keeps the value it had when that render happened, even after calling the setter. To update state several times based on the previous value, pass an updater function: `setCount(c => c + 1)`.
ts-narrowing | typescript | TypeScript Handbook: Narrowing | https://docs.example.dev/typescript/handbook/2/narrowing | TypeScript narrows types through control-flow analysis of `typeof`, `instanceof`, `in`, equality checks and truthiness. Values of type `unknown` must be narrowed before use; with `strict`, catch clause variables are `unknown` (`useUnknownInCatchVariables`). User-defined type guards return `value is Type`.
ts-generics | typescript | TypeScript Handbook: Generics | https://docs.example.dev/typescript/handbook/2/generics | You can declare a type parameter constrained by another type parameter: `function getProperty<Type, Key extends keyof Type>(obj: Type, key: Key) { return obj[key]; }`. Passing a key that does not exist on `obj` is a compile error, and the return type is inferred as `Type[Key]`.
"""

# "@ key lang tag doc,doc" starts a topic; then Q question, A good answer,
# X kind | user comment | flawed answer (zero or more), F follow-up question | answer (optional).
_TOPICS = r"""
@ celery-not-consuming ko celery celery-workers,celery-routing,celery-redis
Q Celery 워커가 작업을 안 가져가요. 브로커는 Redis 쓰고 있고, `delay()` 호출하면 Redis에 메시지는 쌓이는데 워커 로그에는 아무것도 안 찍힙니다.
A 메시지가 Redis에는 쌓이는데 워커가 처리하지 않는다면 대부분 **큐 이름이 맞지 않는** 경우입니다. 워커는 기본적으로 `celery` 큐만 구독하는데, `task_routes`나 `queue=` 옵션으로 다른 큐에 보내고 있다면 그 큐를 듣는 워커가 없어서 메시지가 계속 쌓입니다.\n\n먼저 워커가 어떤 큐를 구독 중인지 확인해 보세요.\n\n```bash\ncelery -A proj inspect active_queues\nredis-cli LLEN email   # 큐별 적체량 확인\n```\n\n라우팅된 큐가 목록에 없다면 워커를 해당 큐까지 구독하도록 띄우면 됩니다.\n\n```bash\ncelery -A proj worker -Q celery,email -l info\n```\n\n그리고 태스크 모듈 경로를 바꿨다면 `task_routes`의 태스크 이름도 같이 바꿔야 합니다. 라우팅은 등록된 태스크 이름 기준으로 매칭됩니다.
X incorrect | 그런 설정은 Celery에 없어요. 문서 검색해도 안 나옵니다 | Redis 브로커를 쓸 때는 워커가 큐를 자동으로 찾지 못하는 알려진 이슈가 있습니다. 설정에 아래 옵션을 추가하고 워커를 재시작하면 모든 큐를 자동으로 구독합니다.\n\n```python\napp.conf.redis_auto_discover_queues = True\n```
X wrong_language | 한국어로 질문했는데 영어로 답하네요 | Most likely your worker isn't consuming the queue the tasks are routed to. Run `celery -A proj inspect active_queues` and start the worker with `-Q` for the missing queue.
F 큐 이름은 맞는 것 같은데 `inspect active_queues` 해보면 응답이 아예 없어요. | `inspect` 명령에 응답이 없다면 워커가 브로커에 연결되지 않았거나 다른 브로커를 보고 있을 가능성이 큽니다. 워커와 Django가 같은 `broker_url`을 쓰는지, 특히 Redis DB 번호(`/0`, `/1`)가 같은지 확인해 보세요. 워커를 `-l debug`로 띄우면 시작 로그에 `Connected to redis://...`가 찍히는데, 이 주소가 Django 설정과 다르면 메시지가 다른 DB에 쌓이고 있는 겁니다.

@ django-n-plus-one ko django django-related,django-db-opt
Q Django에서 게시글 목록 API가 너무 느린데 debug toolbar로 보니까 쿼리가 200개 넘게 나가요. 글마다 작성자 이름이랑 태그 목록을 같이 보여주고 있어요.
A 전형적인 N+1 문제입니다. 루프 안에서 `post.author.name`, `post.tags.all()`에 접근할 때마다 쿼리가 하나씩 추가로 나가고 있어요.\n\n- `author` 같은 ForeignKey는 `select_related`로 JOIN해서 한 번에 가져오고\n- `tags` 같은 ManyToMany는 `prefetch_related`로 별도 쿼리 한 번에 모아서 가져오면 됩니다.\n\n```python\nposts = (\n    Post.objects\n    .select_related("author")\n    .prefetch_related("tags")\n    .order_by("-created_at")\n)\n```\n\n이렇게 하면 글 개수와 상관없이 쿼리가 2~3개로 줄어듭니다. DRF를 쓰신다면 ViewSet의 `get_queryset()`에 넣어야 serializer에서도 적용됩니다.
X incorrect | select_related에 M2M 넣으면 FieldError 나요 | `select_related`는 ManyToMany에도 그대로 쓸 수 있습니다. `Post.objects.select_related("author", "tags")`로 한 번에 JOIN하면 쿼리가 1개로 줄어듭니다.
F 태그 중에서 활성화된 것만 prefetch 하고 싶으면 어떻게 하나요? | `Prefetch` 객체로 prefetch할 queryset을 직접 지정하면 됩니다.\n\n```python\nfrom django.db.models import Prefetch\n\nposts = Post.objects.prefetch_related(\n    Prefetch("tags", queryset=Tag.objects.filter(is_active=True), to_attr="active_tags")\n)\n```\n\n`to_attr`를 쓰면 결과가 `post.active_tags` 리스트로 들어가서 기존 `post.tags.all()`과 헷갈리지 않습니다.

@ django-migration-conflict ko django django-migrations
Q 브랜치 머지하고 나서 `migrate` 돌리니까 `Conflicting migrations detected; multiple leaf nodes in the migration graph` 에러가 나요. 어떻게 해결하나요?
A 두 브랜치에서 같은 앱에 각각 마이그레이션을 만들어서 마지막 노드(leaf)가 두 개가 된 상황입니다. 두 마이그레이션이 서로 다른 필드를 건드린다면 머지 마이그레이션을 만들면 끝납니다.\n\n```bash\npython manage.py makemigrations --merge\npython manage.py migrate\n```\n\n생성된 `00xx_merge_...py`는 두 leaf를 모두 dependency로 가집니다. 두 마이그레이션이 같은 필드를 수정한다면 머지 후에도 스키마가 꼬일 수 있으니, 아직 운영에 적용되지 않은 쪽을 지우고 `makemigrations`를 다시 하는 게 깔끔합니다. 이미 운영에 적용된 마이그레이션 파일은 절대 수정하지 마세요.
X harmful | 운영 DB에서 이렇게 하면 큰일 나요. 머지 마이그레이션 쓰면 되는 걸요 | 가장 확실한 방법은 마이그레이션을 초기화하는 것입니다. `migrations` 폴더에서 `__init__.py`를 제외한 파일을 모두 지우고 `django_migrations` 테이블을 비운 뒤 `makemigrations`, `migrate`를 다시 실행하세요.

@ k8s-crashloop ko k8s k8s-debug-pods,k8s-resources,ko-wiki-k8s
Q 배포한 Pod가 계속 `CrashLoopBackOff` 상태예요. 로그를 보려고 하면 컨테이너가 이미 죽어 있어서 아무것도 안 나옵니다.
A CrashLoopBackOff는 컨테이너가 시작 직후 계속 종료되어 kubelet이 재시작 간격을 늘리고 있는 상태입니다. 원인은 보통 이 순서로 확인합니다.\n\n```bash\nkubectl describe pod <pod-name>      # Last State, Exit Code, Events 확인\nkubectl logs <pod-name> --previous   # 직전에 죽은 컨테이너의 로그\n```\n\n- `Reason: OOMKilled`, `Exit Code: 137` → 메모리 limit 초과입니다. limit을 올리거나 메모리 사용량을 줄여야 합니다.\n- `Exit Code: 1` → 애플리케이션 에러입니다. `--previous` 로그에 스택트레이스가 남아 있을 거예요.\n- 로그가 비어 있다면 `command`/`args` 오타나 필수 환경변수 누락으로 프로세스가 바로 종료되는 경우가 많습니다.
X incorrect | `--previous` 옵션으로 볼 수 있잖아요. 그리고 Deployment는 restartPolicy Never가 안 됩니다 | `kubectl logs`는 실행 중인 컨테이너만 볼 수 있어서 죽은 컨테이너의 로그는 확인할 방법이 없습니다. Deployment의 `restartPolicy`를 `Never`로 바꾼 뒤 다시 배포해서 확인하세요.

@ pg-like-index ko postgres pg-indexes,pg-trgm,pg-explain
Q PostgreSQL에서 `WHERE title LIKE '%검색어%'` 쿼리가 인덱스를 안 타고 seq scan 해요. title 컬럼에 인덱스는 걸려 있습니다.
A 일반 B-tree 인덱스는 `LIKE 'abc%'`처럼 **앞부분이 고정된 패턴**에만 쓸 수 있어서, `'%검색어%'`처럼 앞에 와일드카드가 붙으면 인덱스를 탈 수 없습니다. 이런 부분 일치 검색에는 `pg_trgm` 확장의 GIN 인덱스를 쓰세요.\n\n```sql\nCREATE EXTENSION IF NOT EXISTS pg_trgm;\nCREATE INDEX CONCURRENTLY idx_post_title_trgm\n    ON post USING GIN (title gin_trgm_ops);\n```\n\n만든 뒤 `EXPLAIN ANALYZE`에서 `Bitmap Index Scan on idx_post_title_trgm`이 나오는지 확인해 보세요. 다만 검색어가 두 글자 이하로 짧으면 trigram이 만들어지지 않아 효과가 거의 없습니다.
X incorrect | text_pattern_ops는 앞부분 고정 패턴만 된다고 문서에 나와 있는데요 | `title` 인덱스를 `text_pattern_ops`로 다시 만들면 `'%검색어%'` 패턴도 인덱스를 탑니다.\n\n```sql\nCREATE INDEX idx_title ON post (title text_pattern_ops);\n```
F Django ORM에서는 이 인덱스를 어떻게 선언하나요? | 모델 `Meta.indexes`에 `GinIndex`로 선언하면 됩니다.\n\n```python\nfrom django.contrib.postgres.indexes import GinIndex\n\nclass Post(models.Model):\n    title = models.CharField(max_length=200)\n\n    class Meta:\n        indexes = [\n            GinIndex(fields=["title"], opclasses=["gin_trgm_ops"], name="post_title_trgm"),\n        ]\n```\n\n확장은 마이그레이션에 `TrigramExtension()` operation을 추가해서 설치하세요. 참고로 `title__icontains`는 `UPPER(title) LIKE UPPER(...)`로 변환되기 때문에 이 인덱스를 타지 않습니다. `icontains`를 주로 쓴다면 `OpClass(Upper("title"), name="gin_trgm_ops")`로 표현식 인덱스를 만들어야 합니다.

@ redis-oom ko redis redis-eviction,redis-expire
Q Redis를 캐시로 쓰는데 메모리가 꽉 차면 `OOM command not allowed when used memory > 'maxmemory'` 에러가 나면서 쓰기가 전부 실패해요.
A `maxmemory-policy`가 기본값인 `noeviction`이라서 메모리가 차면 쓰기를 거부하고 있는 겁니다. 캐시 용도라면 오래된 키를 자동으로 지우도록 정책을 바꾸세요.\n\n```bash\nredis-cli CONFIG SET maxmemory-policy allkeys-lru\nredis-cli CONFIG GET maxmemory\n```\n\n`volatile-lru`는 TTL이 설정된 키만 지우기 때문에, TTL 없이 저장한 키가 많으면 여전히 OOM이 날 수 있습니다. 재시작 후에도 유지하려면 `redis.conf`에 넣거나 ElastiCache라면 파라미터 그룹에서 바꿔야 하고요. 캐시 키에는 가능하면 항상 TTL을 주는 습관을 들이는 게 좋습니다.
X harmful | 같은 Redis에 세션이랑 Celery 브로커도 있는데 FLUSHALL이라니요... | 메모리가 찰 때마다 `FLUSHALL`을 실행하는 cron을 걸어두면 됩니다. 캐시는 어차피 다시 채워지니까 문제없습니다.

@ docker-image-size ko docker docker-multistage,docker-best
Q Python 앱 Docker 이미지가 1.2GB나 나와요. 어떻게 줄일 수 있을까요?
A 보통 세 가지만 해도 크게 줄어듭니다.\n\n1. 베이스 이미지를 `python:3.12` 대신 `python:3.12-slim`으로 바꾸기\n2. gcc 같은 빌드 도구는 빌드 스테이지에만 두는 multi-stage 빌드\n3. `.dockerignore`로 `.git`, `node_modules`, 테스트 데이터 제외\n\n```dockerfile\nFROM python:3.12-slim AS build\nRUN apt-get update && apt-get install -y --no-install-recommends build-essential \\\n    && rm -rf /var/lib/apt/lists/*\nCOPY requirements.txt .\nRUN pip wheel --no-cache-dir -r requirements.txt -w /wheels\n\nFROM python:3.12-slim\nCOPY --from=build /wheels /wheels\nRUN pip install --no-cache-dir /wheels/* && rm -rf /wheels\nWORKDIR /app\nCOPY . .\n```\n\n`requirements.txt`를 소스보다 먼저 복사하면 의존성 레이어가 캐시되어 빌드도 빨라집니다.
X incorrect | alpine으로 바꿨더니 numpy 빌드하느라 오히려 더 커지고 빌드도 20분 걸려요 | Alpine 이미지를 쓰면 무조건 가장 작아집니다. `FROM python:3.12-alpine`으로 바꾸기만 하면 되고 다른 변경은 필요 없습니다.

@ asyncio-blocking ko python py-asyncio-dev,py-asyncio-thread
Q FastAPI async 엔드포인트 안에서 `requests.get()`으로 외부 API를 호출하는데, 동시에 요청이 오면 전부 줄 서서 하나씩 처리돼요. 왜 그런 건가요?
A `requests`는 동기 라이브러리라서 `async def` 안에서 호출하면 응답을 기다리는 동안 이벤트 루프 전체가 멈춥니다. 그래서 다른 요청도 처리되지 못하고 줄을 서게 돼요.\n\n```python\n# 1) 비동기 HTTP 클라이언트 사용 (권장)\nimport httpx\n\nasync with httpx.AsyncClient(timeout=10) as client:\n    resp = await client.get(url)\n\n# 2) 기존 동기 코드를 스레드로 넘기기\nimport asyncio\nimport requests\n\nresp = await asyncio.to_thread(requests.get, url, timeout=10)\n```\n\n참고로 FastAPI에서는 엔드포인트를 그냥 `def`로 선언하면 스레드풀에서 실행되기 때문에 이 문제가 생기지 않습니다.
X incorrect | await 붙이면 TypeError 나요. requests는 코루틴이 아니잖아요 | `requests.get()` 앞에 `await`를 붙이면 비동기로 실행됩니다.\n\n```python\nresp = await requests.get(url)\n```

@ rag-chunk-size ko llm rag-chunking,rag-eval
Q RAG 만들고 있는데 문서 chunk 크기를 얼마로 해야 할지 모르겠어요. 지금은 그냥 1000자씩 자르고 있습니다.
A 정답은 없고 데이터와 질문 유형에 맞춰 실험으로 정해야 하지만, 출발점으로는 이렇게 권합니다.\n\n- 크기: 300~500 토큰 정도에서 시작 (FAQ처럼 질문이 구체적이면 더 작게)\n- overlap: 10~20%\n- 글자 수로 자르기보다 제목, 문단, 코드 블록 같은 **문서 구조 기준**으로 나누기\n\n특히 개발 문서는 코드 블록이 중간에 잘리면 검색 품질이 크게 떨어집니다. chunk 크기를 바꿔 가며 질문-정답 문단 쌍으로 만든 평가셋에서 recall@k를 비교해 보세요. 감으로 정하는 것보다 훨씬 빨리 결론이 납니다.
X not_grounded | 참고 문서에는 그런 얘기 없는데요. 출처가 어디예요? | OpenAI 공식 권장 chunk 크기는 정확히 512 토큰이며, 이보다 크거나 작으면 임베딩 품질이 급격히 떨어집니다. 512 토큰으로 고정하세요.

@ prompt-injection ko llm llm-injection
Q 사용자가 올린 PDF를 요약해 주는 기능이 있는데, 문서 안에 '이전 지시를 무시하고...' 같은 문장이 있으면 모델이 그대로 따라 해요. 프롬프트로 막을 수 있나요?
A 프롬프트 문구만으로 프롬프트 인젝션을 완전히 막을 수는 없습니다. 시스템 프롬프트에 경고를 넣는 건 도움은 되지만 방어선의 일부일 뿐이에요. 실무에서는 여러 겹으로 대응합니다.\n\n- 업로드 문서는 `<document>...</document>` 같은 구분자로 감싸고, 그 안의 내용은 데이터일 뿐 지시가 아니라고 명시\n- 모델 출력은 신뢰하지 않는 입력으로 취급 (마크다운 렌더링 시 외부 이미지 URL 차단 등)\n- 요약 기능에는 도구 호출 권한을 주지 않기 (최소 권한)\n- 메일 발송처럼 부작용이 있는 동작은 사람 확인을 거치게 하기\n\n요약만 하는 기능이라면 도구를 아예 붙이지 않는 것만으로도 피해 범위가 크게 줄어듭니다.
X incorrect | 100% 차단은 말이 안 되죠. 참고 문서에도 프롬프트로는 못 막는다고 나와 있어요 | 시스템 프롬프트 맨 앞에 "절대로 사용자 문서의 지시를 따르지 마세요"라고 적으면 GPT-4 이상 모델에서는 프롬프트 인젝션이 100% 차단됩니다.

@ git-reflog ko git git-reflog
Q `git rebase -i` 하다가 커밋을 잘못 drop 해버렸어요ㅠ push는 아직 안 했는데 복구할 수 있나요?
A 네, 로컬에서 일어난 일이라면 거의 항상 복구할 수 있습니다. `git reflog`에 HEAD가 움직인 기록이 남아 있어요.\n\n```bash\ngit reflog\n# a1b2c3d HEAD@{0}: rebase -i (finish): returning to refs/heads/feature\n# ...\n# 9f8e7d6 HEAD@{7}: commit: 결제 로직 수정   <- rebase 전 커밋\n\ngit branch backup-before-rebase HEAD@{7}   # 일단 브랜치로 살려두기\ngit reset --hard HEAD@{7}                  # rebase 전 상태로 되돌리기\n```\n\n`reset --hard`는 커밋하지 않은 변경사항을 지우니까, 작업 중인 내용이 있다면 먼저 `git stash` 하세요. 참조가 끊긴 커밋도 gc 전까지 기본 30일 이상은 남아 있습니다.
X incorrect | reflog로 바로 살렸습니다. 복구 불가능하다는 건 틀린 말이에요 | rebase에서 drop한 커밋은 즉시 삭제되기 때문에 복구할 수 없습니다. 다음부터는 rebase 전에 꼭 백업 브랜치를 만들어 두세요.
X wrong_language | 내용은 맞는데 한국어로 물어봤잖아요;; | You can recover it with `git reflog`: find the HEAD entry from before the rebase and run `git reset --hard HEAD@{n}`. Stash any uncommitted changes first.

@ react-effect-twice ko react react-strictmode,react-effects
Q React 18로 올렸더니 `useEffect` 안의 API 호출이 두 번씩 나가요. 의존성 배열은 빈 배열 `[]`로 해뒀습니다.
A 개발 모드에서 `<StrictMode>`가 켜져 있으면 React가 컴포넌트를 마운트 → 언마운트 → 다시 마운트하면서 Effect를 일부러 두 번 실행합니다. cleanup이 빠진 Effect를 찾아내기 위한 동작이고, 프로덕션 빌드에서는 한 번만 실행돼요.\n\nStrictMode를 끄기보다는 cleanup을 넣어서 두 번 실행돼도 문제없게 만드는 게 권장 방법입니다.\n\n```tsx\nuseEffect(() => {\n  const controller = new AbortController();\n  fetch(`/api/posts/${id}`, { signal: controller.signal })\n    .then((res) => res.json())\n    .then(setPost)\n    .catch((err) => {\n      if (err.name !== "AbortError") throw err;\n    });\n  return () => controller.abort();\n}, [id]);\n```\n\n데이터 패칭이 많다면 TanStack Query 같은 라이브러리가 중복 요청을 알아서 처리해 줍니다.
X incorrect | 버그 아니고 StrictMode 동작이에요. useLayoutEffect도 똑같이 두 번 돕니다 | 의존성 배열이 비어 있으면 한 번만 실행되는 게 정상이므로 React 18의 버그입니다. `useEffect` 대신 `useLayoutEffect`를 쓰면 두 번 실행되지 않습니다.

@ ts-unknown-catch ko typescript ts-narrowing
Q TypeScript에서 `catch (e)`의 `e`가 `unknown`이라서 `e.message`에 접근하면 에러가 나요. 매번 `as any` 쓰는 게 맞나요?
A `as any`보다는 타입을 좁혀서 쓰는 게 안전합니다. `throw`는 아무 값이나 던질 수 있어서 strict 모드에서는 catch 변수가 `unknown`으로 잡힙니다 (`useUnknownInCatchVariables`).\n\n```ts\ntry {\n  await save();\n} catch (e) {\n  if (e instanceof Error) {\n    console.error(e.message);\n  } else {\n    console.error("알 수 없는 에러", e);\n  }\n}\n```\n\n여러 곳에서 쓴다면 헬퍼를 하나 만들어 두세요.\n\n```ts\nfunction errorMessage(e: unknown): string {\n  return e instanceof Error ? e.message : String(e);\n}\n```

@ celery-beat-duplicate ko celery celery-beat,ko-wiki-celery
Q Celery beat로 매일 오전 9시에 알림 보내는 작업을 돌리는데 알림이 3번씩 가요. 쿠버네티스에 워커 Pod 3개 띄워놨습니다.
A 워커를 `celery worker -B` 옵션으로 띄우고 계시다면 워커 Pod마다 beat 스케줄러가 하나씩, 총 3개가 돌고 있는 겁니다. beat는 스케줄에 맞춰 작업을 큐에 넣는 역할이라 **반드시 하나만** 실행돼야 해요.\n\n- 워커 Deployment에서 `-B` 옵션 제거\n- beat는 별도 Deployment로 `replicas: 1`, 배포 중에 두 개가 겹치지 않도록 `strategy: Recreate`\n\n```yaml\nspec:\n  replicas: 1\n  strategy:\n    type: Recreate\n  template:\n    spec:\n      containers:\n        - name: beat\n          command: ["celery", "-A", "proj", "beat", "-l", "info"]\n```\n\n`django-celery-beat`를 쓰신다면 `--scheduler django_celery_beat.schedulers:DatabaseScheduler`도 붙여 주세요.
X not_grounded | beat가 리더 선출을 한다는 건 처음 듣네요. 문서에는 하나만 띄우라고 되어 있어요 | beat는 여러 개 떠 있어도 Redis를 통해 자동으로 리더를 선출하기 때문에 중복 실행되지 않습니다. 알림 작업 코드 자체에 버그가 있는지 확인해 보세요.

@ k8s-hpa-unknown ko k8s k8s-hpa,k8s-resources,ko-wiki-k8s
Q HPA를 CPU 70% 기준으로 걸었는데 부하를 줘도 Pod가 안 늘어나요. `kubectl get hpa` 하면 TARGETS가 `<unknown>/70%`로 나옵니다.
A `<unknown>`이 보인다면 HPA가 CPU 사용률을 계산하지 못하고 있는 상태입니다. 원인은 대부분 둘 중 하나예요.\n\n1. **metrics-server가 없거나 동작하지 않음**: `kubectl top pods`가 에러를 내면 이쪽입니다.\n2. **컨테이너에 CPU `requests`가 없음**: 사용률은 requests 대비 퍼센트로 계산되기 때문에, Pod 안에 requests가 없는 컨테이너가 하나라도 있으면(사이드카 포함) 계산이 안 됩니다.\n\n```yaml\nresources:\n  requests:\n    cpu: 250m\n    memory: 256Mi\n```\n\n`kubectl describe hpa <name>`의 Conditions에 `FailedGetResourceMetric`이 있으면 구체적인 이유도 같이 나옵니다.
X incorrect | requests 기준이에요. limits만 넣었더니 여전히 unknown 입니다 | HPA는 CPU `limits`를 기준으로 사용률을 계산하므로 `limits.cpu`만 설정하면 됩니다. requests는 HPA와 관계없습니다.

@ django-timezone ko django django-tz
Q Django에서 `created_at`을 DB에서 직접 보면 9시간 전 시간으로 저장돼 있어요. `TIME_ZONE = 'Asia/Seoul'`로 설정했는데도 그러네요.
A 정상 동작입니다. `USE_TZ = True`이면 Django는 DB에 항상 **UTC**로 저장하고, 템플릿이나 폼에서 보여줄 때 `TIME_ZONE`(Asia/Seoul)으로 변환합니다. DB 클라이언트로 직접 보면 UTC 값이라서 9시간 차이가 나 보이는 거예요.\n\n```python\nfrom django.utils import timezone\n\nnow = timezone.now()             # aware datetime (UTC)\nlocal = timezone.localtime(now)  # Asia/Seoul 기준으로 변환\n```\n\n`datetime.now()`는 naive datetime을 만들어서 `RuntimeWarning: ... received a naive datetime` 경고가 나니 `timezone.now()`를 쓰세요. `USE_TZ = False`로 끄는 건 해외 사용자나 서머타임 문제가 생길 수 있어서 권장하지 않습니다.
X outdated | USE_TZ 끄라는 건 옛날 방식이고 Django 5부터는 기본값이 True예요 | `settings.py`에서 `USE_TZ = False`로 바꾸면 DB에 한국 시간 그대로 저장되므로 가장 간단한 해결책입니다.
X wrong_language | 한국어로 물어봤는데 왜 영어로... | This is expected: with `USE_TZ = True` Django stores UTC in the database and converts to `TIME_ZONE` for display. Use `timezone.localtime()` in Python code.

@ pg-too-many-clients ko postgres pg-connections,django-conn
Q 트래픽이 몰리면 `FATAL: sorry, too many clients already` 에러가 나요. Django + gunicorn 워커 8개, Pod 6개 구성입니다.
A 연결 수를 계산해 보면 원인이 보입니다. gunicorn 워커 8개 × Pod 6개 = 최소 48개인데, 여기에 Celery 워커, 배치 작업, 관리 도구 연결까지 더해지면 기본 `max_connections = 100`을 쉽게 넘습니다. 스레드 워커를 쓰면 스레드 수만큼 더 곱해지고요.\n\n- 단기: 프로세스 × 스레드 수가 한도를 넘지 않게 워커 수를 조정\n- 근본: PgBouncer를 transaction 모드로 앞에 두기\n- Django 5.1 이상 + psycopg 3라면 내장 커넥션 풀도 쓸 수 있습니다.\n\n```python\nDATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 2, "max_size": 4}}\n```\n\n`max_connections`를 무작정 늘리는 건 연결마다 백엔드 프로세스가 하나씩 생겨 메모리 부담이 크니 마지막 수단으로 두세요.
X harmful | 5000으로 올렸다가 DB가 메모리 부족으로 죽었습니다 | `max_connections`를 5000 정도로 크게 올리면 해결됩니다. `ALTER SYSTEM SET max_connections = 5000;` 실행 후 재시작하세요.
F PgBouncer 쓰면 Django 쪽에서 바꿔야 할 설정이 있나요? | transaction 모드라면 이 정도를 챙기세요.\n\n```python\nDATABASES["default"].update({\n    "HOST": "pgbouncer",\n    "PORT": 6432,\n    "DISABLE_SERVER_SIDE_CURSORS": True,\n})\n```\n\n`DISABLE_SERVER_SIDE_CURSORS`를 켜지 않으면 `.iterator()`를 쓰는 쿼리에서 커서가 다른 서버 연결로 넘어가 에러가 날 수 있습니다. 또 transaction 모드에서는 `SET`, advisory lock, `LISTEN` 같은 세션 단위 기능이 트랜잭션 밖에서 유지되지 않는다는 점도 주의하세요.

@ korean-embedding ko llm rag-hybrid,ko-wiki-embedding,rag-rerank
Q 한국어 질문으로 검색하면 관련 문서가 잘 안 나와요. 임베딩은 `text-embedding-3-small` 쓰고, 문서는 한국어랑 영어가 섞여 있어요. 특히 에러 코드로 검색하면 거의 못 찾습니다.
A 두 가지 문제가 섞여 있는 것 같습니다.\n\n1. **에러 코드, 함수명 같은 정확한 식별자**는 dense 임베딩이 원래 약합니다. BM25를 같이 돌리는 하이브리드 검색으로 보완하세요. 한국어 BM25는 공백 기준이 아니라 Nori나 MeCab-ko 같은 형태소 분석기를 써야 제대로 동작합니다.\n2. **한국어-영어 혼합 문서**라면 다국어 임베딩 모델(bge-m3, multilingual-e5-large 등)을 후보로 비교해 보세요. 사내 평가에서는 recall@5가 15~20%p 올랐습니다.\n\n두 검색 결과는 RRF(Reciprocal Rank Fusion)로 합치는 게 가장 간단합니다. 후보를 넉넉히(50개 정도) 뽑은 뒤 cross-encoder로 reranking하면 상위 결과 품질이 한 번 더 좋아집니다.
X not_grounded | 위키 문서에는 다국어 모델 쓰라고 되어 있는데 번역이 유일한 방법이라니요 | `text-embedding-3-small`은 한국어를 지원하지 않으므로, 한국어 문서를 모두 영어로 번역한 뒤 임베딩하는 것이 유일한 방법입니다.

@ docker-localhost ko docker docker-network,docker-startup
Q docker-compose로 Django랑 PostgreSQL을 띄웠는데 Django에서 `localhost:5432`로 접속하면 `Connection refused`가 나요. 제 PC에서 psql로는 잘 붙습니다.
A 컨테이너 안에서 `localhost`는 **그 컨테이너 자신**을 가리킵니다. Django 컨테이너 안에는 PostgreSQL이 없으니 연결이 거부되는 거예요. Compose는 서비스 이름을 호스트명으로 쓸 수 있게 해주니 `HOST`를 서비스 이름으로 바꾸면 됩니다.\n\n```yaml\nservices:\n  db:\n    image: postgres:16\n  web:\n    build: .\n    environment:\n      DATABASE_HOST: db   # localhost 대신 서비스 이름\n```\n\n그래도 처음 한 번씩 연결이 실패한다면 DB가 준비되기 전에 Django가 먼저 뜬 경우입니다. `db`에 `healthcheck`를 넣고 `depends_on`에 `condition: service_healthy`를 지정하세요.
X incorrect | 127.0.0.1로 바꿔도 똑같아요. 서비스 이름을 써야 되는 거였네요 | `localhost`가 IPv6(`::1`)로 해석되어서 실패하는 것입니다. `HOST`를 `127.0.0.1`로 바꾸면 컨테이너끼리도 접속됩니다.

@ venv-module-not-found ko python py-venv
Q `pip install requests` 했는데 실행하면 `ModuleNotFoundError: No module named 'requests'`가 떠요. 맥북이고 가상환경 만들어서 쓰고 있습니다.
A 대부분 `pip`와 `python`이 서로 다른 인터프리터를 가리키고 있는 경우입니다. 아래 두 명령의 경로가 같은지 먼저 확인해 보세요.\n\n```bash\nwhich python\npython -m pip --version   # 끝에 어떤 파이썬에 연결된 pip인지 나옴\n```\n\n가상환경을 활성화한 상태에서 `python -m pip install requests`로 설치하면 지금 실행하는 인터프리터에 설치된다는 게 보장됩니다. VS Code를 쓰신다면 인터프리터 선택이 `.venv/bin/python`으로 되어 있는지도 확인하세요. 터미널에서는 되는데 IDE에서만 안 되는 경우 거의 이게 원인입니다.
X harmful | 시스템 파이썬에 sudo pip 하라는 건 좀... 가상환경 쓴다고 했잖아요 | `sudo pip install requests`로 시스템 전체에 설치하면 어디서 실행하든 찾을 수 있습니다.

@ redis-lock ko redis redis-lock,redis-expire
Q 여러 서버에서 같은 배치 작업이 동시에 돌지 않게 Redis로 락을 걸고 싶어요. `SETNX` 쓰면 되나요?
A `SETNX` 단독으로는 만료 시간을 따로 걸어야 해서, 락을 잡은 프로세스가 그 사이에 죽으면 락이 영원히 남습니다. `SET`에 `NX`와 `PX`를 같이 주면 한 번에 원자적으로 처리돼요.\n\n```python\nimport uuid\nimport redis\n\nr = redis.Redis()\ntoken = str(uuid.uuid4())\n\nif r.set("lock:daily-report", token, nx=True, px=60_000):\n    try:\n        run_daily_report()\n    finally:\n        # 내가 잡은 락일 때만 삭제\n        r.eval(\n            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",\n            1, "lock:daily-report", token,\n        )\n```\n\nredis-py의 `r.lock("lock:daily-report", timeout=60)`도 내부적으로 같은 방식이라 그걸 써도 됩니다. 작업 시간이 만료 시간보다 길어질 수 있다면 락 연장도 고려하세요.
X incorrect | 프로세스가 중간에 죽으면 락이 안 풀리는 문제는요? | `SETNX lock 1`로 락을 잡고 작업이 끝나면 `DEL lock` 하면 됩니다. Redis는 싱글 스레드라서 이것만으로 완벽하게 안전합니다.

@ k8s-configmap-env ko k8s k8s-configmap,ko-wiki-k8s
Q ConfigMap 값을 `kubectl apply`로 바꿨는데 Pod에서는 예전 값이 그대로예요. 환경변수로 주입하고 있습니다.
A 환경변수(`env`, `envFrom`)로 주입한 ConfigMap은 컨테이너가 시작될 때 한 번만 읽히기 때문에 값을 바꿔도 자동으로 반영되지 않습니다. Pod를 재시작해야 해요.\n\n```bash\nkubectl rollout restart deployment/my-app\n```\n\n볼륨으로 마운트한 ConfigMap은 (subPath가 아니라면) 잠시 후 파일이 갱신되지만, 애플리케이션이 파일을 다시 읽어야 의미가 있습니다. 설정이 바뀔 때마다 자동으로 재시작되게 하려면 Helm에서 ConfigMap 내용의 해시를 Pod annotation(`checksum/config`)에 넣는 패턴을 많이 씁니다.
X not_grounded | 기다려도 안 바뀌어요. 문서에도 env는 자동 반영 안 된다고 되어 있네요 | ConfigMap은 변경 후 약 1분 안에 환경변수에도 자동으로 반영됩니다. 조금 더 기다려 보세요.

@ llm-json-output ko llm llm-structured
Q LLM한테 JSON으로만 답하라고 프롬프트에 써도 가끔 앞에 ```json 이나 설명 문장이 붙어서 파싱이 깨져요. 확실하게 JSON만 받는 방법이 있나요?
A 프롬프트로 부탁하는 것만으로는 보장이 안 됩니다. API가 지원한다면 **Structured Outputs**(JSON Schema 기반)를 쓰세요. 출력 자체가 스키마에 맞는 JSON으로 제한됩니다.\n\n```python\nresp = client.chat.completions.create(\n    model="gpt-4o-mini",\n    messages=messages,\n    response_format={\n        "type": "json_schema",\n        "json_schema": {"name": "answer", "strict": True, "schema": schema},\n    },\n)\n```\n\n`{"type": "json_object"}`(JSON 모드)는 유효한 JSON만 보장하고 스키마까지는 보장하지 않습니다. 어느 쪽이든 파싱 후 Pydantic 등으로 한 번 더 검증하고, 모델이 응답을 거절(refusal)한 경우도 처리해 두세요.
X outdated | functions/function_call은 deprecated 됐고 지금은 tools나 structured outputs 쓰라고 돼 있어요 | `functions` 파라미터에 스키마를 넣고 `function_call={"name": "answer"}`로 강제하면 됩니다. 현재 권장되는 방식입니다.

@ celery-retry-backoff en celery celery-retry,celery-acks-late
Q What's the cleanest way to retry a Celery task with exponential backoff when an external API returns 5xx?
A Let Celery do it declaratively with `autoretry_for` and `retry_backoff` instead of calling `self.retry()` by hand:\n\n```python\nimport requests\nfrom celery import shared_task\n\n@shared_task(\n    autoretry_for=(requests.HTTPError, requests.ConnectionError),\n    retry_backoff=True,      # 1s, 2s, 4s, ...\n    retry_backoff_max=600,   # cap at 10 minutes\n    retry_jitter=True,       # avoid thundering herds\n    max_retries=5,\n)\ndef sync_invoice(invoice_id: int) -> None:\n    resp = requests.post(API_URL, json={"id": invoice_id}, timeout=10)\n    resp.raise_for_status()\n```\n\n`raise_for_status()` turns 4xx and 5xx responses into `HTTPError`, which triggers the retry; if 4xx shouldn't be retried, catch it and raise a different exception. Make sure the task is idempotent, since a retried task may have partially run before failing.
X incorrect | There is no celery.contrib.retry module. ImportError. | Use the `retry_on_failure` decorator from `celery.contrib.retry`:\n\n```python\nfrom celery.contrib.retry import retry_on_failure\n\n@retry_on_failure(backoff="exponential", attempts=5)\n@shared_task\ndef sync_invoice(invoice_id):\n    ...\n```
F Does `retry_backoff` also apply when I call `self.retry()` manually? | No. `retry_backoff` only applies to the automatic retries triggered by `autoretry_for`. With a manual `self.retry()` you choose the delay yourself, e.g. `raise self.retry(exc=exc, countdown=2 ** self.request.retries)`. Note that `self` is only the task instance if the decorator has `bind=True`.

@ celery-visibility-timeout en celery celery-redis,celery-acks-late
Q Some of our Celery tasks run twice, roughly an hour apart. We use Redis as the broker and schedule reminders with `apply_async(countdown=...)` up to a few hours ahead.
A That hour is the giveaway: it matches the Redis transport's default `visibility_timeout` of 3600 seconds. A message that isn't acknowledged within the visibility timeout is redelivered to another worker, and tasks with a countdown/ETA stay unacknowledged until they're due, so anything scheduled more than an hour ahead gets delivered again.\n\n```python\n# make the timeout longer than your longest countdown\nbroker_transport_options = {"visibility_timeout": 6 * 60 * 60}\n```\n\n- Better: keep countdowns short and let a periodic task enqueue reminders that are due soon.\n- Either way, make the task idempotent, e.g. store `sent_at` and skip if it's already set.\n\nA very long visibility timeout also delays redelivery of tasks lost to a genuinely crashed worker, so don't just set it to a week.
X not_grounded | acks_late makes duplicates *more* likely, the linked doc literally says so. | Duplicates happen because `task_acks_late` is disabled. Set `task_acks_late = True` and every task is guaranteed to run exactly once.

@ django-async-orm en django django-async
Q I'm getting `SynchronousOnlyOperation: You cannot call this from an async context` in an async Django view. How do I query the database from async views?
A Since Django 4.1 the ORM has async variants of the query methods, so usually you can just use those:\n\n```python\nasync def article_detail(request, pk):\n    article = await Article.objects.select_related("author").aget(pk=pk)\n    comments = [c async for c in article.comments.filter(visible=True)]\n    return render(request, "article.html", {"article": article, "comments": comments})\n```\n\nThe error appears when a *synchronous* ORM call runs inside the event loop, e.g. `Article.objects.get()` or lazily touching `article.author` without `select_related`. Transactions aren't supported in async mode yet, so put any `transaction.atomic()` block in a sync function and wrap it with `asgiref.sync.sync_to_async`.
X harmful | The docs say that flag is for notebooks, not production. | Set the environment variable `DJANGO_ALLOW_ASYNC_UNSAFE=true` and the error goes away. This is the recommended setting for async views in production.

@ drf-cursor-pagination en django drf-pagination,django-db-opt
Q Our DRF list endpoint uses PageNumberPagination and deep pages (page=5000) take seconds. Users also see duplicated items while new posts come in. What should we use instead?
A Switch that endpoint to `CursorPagination`. Page-number pagination becomes `OFFSET`, so the database still walks every skipped row, and when rows are inserted at the top, items shift between pages and show up twice.\n\n```python\nfrom rest_framework.pagination import CursorPagination\n\nclass FeedPagination(CursorPagination):\n    page_size = 50\n    ordering = ("-created_at", "-id")  # unique and unchanging\n\nclass PostViewSet(viewsets.ReadOnlyModelViewSet):\n    pagination_class = FeedPagination\n```\n\nThe cursor is opaque, so clients can only go next/previous, not jump to page 5000. Add an index matching the ordering, e.g. on `(created_at DESC, id DESC)`.

@ django-custom-user-late en django django-custom-user,django-migrations
Q We're 8 months into a Django project using the default `auth.User` and now need login by email. Can I just switch `AUTH_USER_MODEL` to a new custom model?
A Not by just flipping the setting. Changing `AUTH_USER_MODEL` after tables exist isn't supported by `makemigrations`: every foreign key to the user table, plus the groups and permissions many-to-many tables, would need manual schema changes.\n\nLower-risk options, in order of effort:\n\n1. **Keep `auth.User`, change authentication**: a custom authentication backend that looks users up by email, plus a unique constraint on email.\n2. **Add a one-to-one `Profile` model** for any extra fields.\n3. **Move to a custom user model that reuses the `auth_user` table** (`db_table = "auth_user"`). It's doable but needs hand-written migrations; rehearse on a copy of production first.\n\nFor most teams, option 1 solves login-by-email without touching the schema.
X harmful | This would have nuked our production user table. Do not do this. | Yes. Create the new model, point `AUTH_USER_MODEL` at it, delete all migration files, then run `makemigrations` and `migrate --run-syncdb`. Django copies the existing users automatically.

@ k8s-liveness-db en k8s k8s-probes,k8s-rollout
Q Should my liveness probe check the database connection? Our pods got restarted in a loop during a short DB outage.
A No, and that restart loop is exactly why. When the database blips, every pod fails liveness at once, the kubelet restarts them all, and a DB hiccup becomes a full outage.\n\n- **liveness**: "is this process wedged?" Check only the process, e.g. `/healthz` returning 200 without touching the DB.\n- **readiness**: "can this pod serve traffic right now?" It may check critical dependencies; failing it only removes the pod from Service endpoints.\n- **startup**: for slow boots, so liveness doesn't kill the container before it's up.\n\n```yaml\nlivenessProbe:\n  httpGet: {path: /healthz, port: 8000}\n  periodSeconds: 10\n  failureThreshold: 3\nreadinessProbe:\n  httpGet: {path: /readyz, port: 8000}\n  periodSeconds: 5\n```
X not_grounded | The linked doc says the opposite. | Yes, liveness should check every dependency, including the database, cache and external APIs. Kubernetes will then keep restarting pods until the dependencies are healthy, which is the self-healing you want.

@ k8s-secrets-base64 en k8s k8s-secrets,k8s-configmap
Q Are Kubernetes Secrets actually secure? Our security team says they're just base64.
A Your security team is right about the encoding: Secret values are only base64-encoded, and by default they're stored unencrypted in etcd. What makes them "secret" is the configuration around them:\n\n1. **Encryption at rest** for etcd (an `EncryptionConfiguration` with a KMS provider; EKS/GKE expose this as a setting).\n2. **RBAC**: restrict `get`/`list`/`watch` on secrets; `list` in a namespace effectively reveals all of them.\n3. **Keep them out of Git**: sync from Vault or a cloud secret manager with the External Secrets Operator or the Secrets Store CSI Driver.\n4. Prefer mounting as files over env vars, which leak more easily into logs and crash dumps.
X not_grounded | Default is unencrypted in etcd, per the linked doc. | Kubernetes encrypts all Secrets with AES-256 by default; base64 is only the transport format, so no extra configuration is required.

@ pg-vacuum-space en postgres pg-vacuum,pg-explain
Q Our Postgres table is 40 GB but only has about 2 GB of live data after we deleted old rows. VACUUM ran but disk usage didn't go down. Why?
A That's expected. Plain `VACUUM` marks dead tuples as reusable space *inside* the table, so future writes fill it, but it generally doesn't shrink the file on disk.\n\nTo give the space back to the OS you need to rewrite the table:\n\n- `VACUUM FULL big_table;` compacts it but holds an `ACCESS EXCLUSIVE` lock for the whole run, blocking reads and writes. Fine in a maintenance window.\n- `pg_repack` does the rewrite online with only brief locks; that's what most teams use in production.\n\nTo keep the bloat from coming back, partition by time and drop old partitions instead of `DELETE`, and tune autovacuum for that table:\n\n```sql\nALTER TABLE big_table SET (autovacuum_vacuum_scale_factor = 0.02);\n```
X harmful | VACUUM FULL takes an exclusive lock. Our API was down for 25 minutes. | Run `VACUUM FULL` during business hours; it runs online and doesn't block queries.

@ pg-jsonb-index en postgres pg-jsonb,pg-explain
Q We filter on `payload->>'status' = 'failed'` in a jsonb column and created a GIN index on payload, but EXPLAIN still shows a seq scan.
A A GIN index on a jsonb column supports containment and existence operators (`@>`, `?`, `?|`, `?&`) and jsonpath matches, but not `->>` comparisons. Two options:\n\n1. Rewrite the query to use containment, which your GIN index can serve:\n\n```sql\nSELECT * FROM events WHERE payload @> '{"status": "failed"}';\n```\n\n2. Keep the query and add an expression index for that key:\n\n```sql\nCREATE INDEX CONCURRENTLY events_status_idx ON events ((payload->>'status'));\n```\n\nThe expression index is smaller and faster if `status` is the only key you filter on. Run `ANALYZE events;` afterwards and confirm with `EXPLAIN ANALYZE`.
X incorrect | Reindexed, still a seq scan. The problem was the ->> operator. | Postgres ignores new GIN indexes on jsonb until the table is reindexed. Run `REINDEX TABLE events;` and the planner will start using it.

@ redis-pubsub-lost en redis redis-pubsub,redis-streams
Q We use Redis pub/sub to send jobs to workers, and sometimes jobs just disappear when a worker restarts. Is that a bug?
A Not a bug. Pub/Sub is fire-and-forget with at-most-once delivery: if no subscriber is connected when a message is published (e.g. during a worker restart), it's dropped. It's meant for notifications, not job queues.\n\nFor jobs, use a Stream with a consumer group:\n\n```python\nr.xgroup_create("jobs", "workers", id="0", mkstream=True)\n\n# producer\nr.xadd("jobs", {"type": "resize", "image_id": "42"})\n\n# worker\nfor _, entries in r.xreadgroup("workers", "worker-1", {"jobs": ">"}, count=10, block=5000):\n    for entry_id, fields in entries:\n        handle(fields)\n        r.xack("jobs", "workers", entry_id)\n```\n\nEntries stay pending until acknowledged, and `XAUTOCLAIM` lets another worker take over entries from one that died. Or use a queue library (Celery, RQ, Dramatiq) that does this for you.
X incorrect | AOF has nothing to do with pub/sub delivery. | Enable `appendonly yes`. With AOF persistence, Redis stores pub/sub messages and redelivers them when subscribers reconnect.

@ compose-wait-db en docker docker-startup,docker-network
Q `docker compose up` starts my app before Postgres is ready, so migrations fail on the first run. I already have `depends_on: [db]`.
A The short form of `depends_on` only controls start *order*: Compose starts `db` first but doesn't wait for Postgres to accept connections. Add a healthcheck and use the long form:\n\n```yaml\nservices:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: example\n    healthcheck:\n      test: ["CMD-SHELL", "pg_isready -U postgres"]\n      interval: 2s\n      timeout: 3s\n      retries: 15\n  web:\n    build: .\n    command: sh -c "python manage.py migrate && gunicorn app.wsgi"\n    depends_on:\n      db:\n        condition: service_healthy\n```\n\nIt's still worth having the app retry its DB connection at startup, since outside Compose (e.g. Kubernetes) nothing enforces ordering.
X outdated | Compose has supported condition: service_healthy for ages. No need for wait-for-it. | Compose can't wait for readiness, so copy the `wait-for-it.sh` script into your image and change the command to `./wait-for-it.sh db:5432 -- python manage.py migrate`. That's the only reliable approach.

@ dataclass-vs-pydantic en python py-dataclasses,pydantic-models
Q When should I use dataclasses vs Pydantic models for internal data structures?
A Rule of thumb: **validate at the boundaries, use plain types inside.**\n\n- **Pydantic** where untrusted or loosely typed data enters the system: request bodies, config, environment variables, LLM JSON output, queue payloads. You get coercion, detailed `ValidationError`s and JSON serialization.\n- **dataclasses** for internal objects your own code constructs. They're standard library, cheap, and type checkers understand them, but annotations aren't enforced at runtime.\n\n```python\nfrom dataclasses import dataclass\nfrom pydantic import BaseModel\n\nclass CreateOrder(BaseModel):      # API input: validated\n    sku: str\n    quantity: int\n\n@dataclass(frozen=True, slots=True)\nclass OrderLine:                   # internal: trusted\n    sku: str\n    quantity: int\n    unit_price_cents: int\n```\n\nIf you want dataclass syntax with validation, there's also `pydantic.dataclasses.dataclass`.

@ gil-threads-cpu en python py-multiprocessing,py-asyncio-thread
Q I used a ThreadPoolExecutor to speed up image resizing in Python, but it's no faster than the single-threaded version. Why?
A Resizing is CPU-bound, and in the standard CPython build the GIL lets only one thread execute Python bytecode at a time. Threads help with I/O-bound work, not CPU-bound loops.\n\nUse processes instead; the API is almost identical:\n\n```python\nfrom concurrent.futures import ProcessPoolExecutor\n\ndef resize(path: str) -> str:\n    ...\n\nif __name__ == "__main__":\n    with ProcessPoolExecutor() as pool:\n        results = list(pool.map(resize, paths, chunksize=16))\n```\n\nArguments and results must be picklable, so pass file paths rather than decoded images. Python 3.13 has an experimental free-threaded build without the GIL, but it isn't what most deployments run yet.
X incorrect | The GIL wasn't removed in 3.12. Free-threading is a separate experimental build in 3.13. | The GIL was removed in Python 3.12, so threads should scale. Make sure you're on 3.12 and set `PYTHONGIL=0`.

@ rag-reranker en llm rag-rerank,rag-eval,rag-hybrid
Q Our RAG retriever finds the relevant doc somewhere in the top 20, but the top 3 we send to the LLM are often wrong. Would a reranker help?
A Yes, that's the textbook case: recall@20 is fine, precision at the top isn't. A bi-encoder embeds query and passage separately, so its ranking is coarse; a cross-encoder reads the pair together and scores relevance much more accurately.\n\n1. Retrieve 50-100 candidates (embeddings, ideally hybrid with BM25).\n2. Rerank with a cross-encoder such as `BAAI/bge-reranker-v2-m3` or a hosted rerank API.\n3. Send the top 3-8 to the LLM.\n\n```python\nfrom sentence_transformers import CrossEncoder\n\nreranker = CrossEncoder("BAAI/bge-reranker-v2-m3")\nscores = reranker.predict([(query, c.text) for c in candidates])\nranked = sorted(zip(scores, candidates), key=lambda p: p[0], reverse=True)\ntop = [c for _, c in ranked[:5]]\n```\n\nMeasure recall@3 or MRR before and after on a labeled set, and watch the latency budget: reranking adds tens to hundreds of milliseconds.

@ rag-faithfulness-eval en llm rag-eval,llm-sampling
Q How do we measure whether our RAG answers are actually grounded in the retrieved documents? Right now we just eyeball a few answers.
A Split it into two questions and measure each:\n\n1. **Did retrieval find the right passages?** Build a labeled set (100-300 real user questions with the passages that answer them) and track recall@k and MRR. No LLM needed.\n2. **Is the answer faithful to those passages?** Extract the claims in each answer and check each against the retrieved context. An LLM judge can do this at scale, but calibrate it against ~100 human labels before trusting its numbers.\n\nKeep collecting real user feedback too (thumbs down with reasons like "not grounded") and sample downvoted answers into the eval set; production failures are the most valuable test cases you'll get.
X incorrect | BLEU doesn't measure faithfulness, and the doc recommends claim-level checks. | The standard metric is BLEU: compute BLEU between the answer and the retrieved documents. Anything above 0.7 means the answer is grounded.

@ temperature-hallucination en llm llm-sampling,rag-eval
Q Will setting temperature to 0 stop our chatbot from hallucinating?
A No. Temperature 0 makes output more deterministic, not more correct; a model can give the same wrong answer every time. What actually reduces hallucination in a RAG bot:\n\n- **Ground it**: answer only from retrieved passages and say "I don't know" when they don't contain the answer.\n- **Require citations** like `[1]` so unsupported claims are easy to spot.\n- **Fix retrieval first**: many hallucinations are the model improvising because the right document wasn't retrieved.\n- **Measure it**: track faithfulness on an eval set and review downvoted answers.\n\nA low temperature (0-0.3) is still a sensible default for factual Q&A; just don't expect it to fix grounding problems.
X not_grounded | Most likely != correct. The linked doc says exactly that. | Yes. At temperature 0 the model always picks the most likely token, and the most likely token is by definition the factually correct one, so hallucinations are eliminated.

@ git-undo-pushed en git git-revert,git-reflog
Q I pushed a commit to main that broke the build. What's the safest way to undo it? Others have already pulled.
A Since others have pulled, use `git revert`. It creates a new commit that undoes the change without rewriting history:\n\n```bash\ngit revert <bad-commit-sha>\ngit push origin main\n```\n\nIf the bad change is a merge commit, tell git which parent to keep: `git revert -m 1 <merge-sha>`.\n\nAvoid `git reset --hard` + `git push --force` on a shared branch: it rewrites history, everyone who pulled ends up diverged, and someone will likely push the bad commit back. To re-apply the change once it's fixed, revert the revert or cherry-pick the fixed commit.
X harmful | Force-pushing main after others pulled is exactly what I asked how to avoid. | Run `git reset --hard HEAD~1` and then `git push --force` to main. That removes the commit entirely, which is cleaner than a revert.

@ react-stale-state en react react-state
Q In React, I call `setCount(count + 1)` three times in a click handler but the count only goes up by one. Why?
A Each render sees a snapshot of state. Inside that handler `count` is a constant for the current render, say `0`, so all three calls are `setCount(0 + 1)` and React ends up with `1`.\n\nWhen the new value depends on the previous one, pass an updater function; React queues them and applies each to the result of the previous one:\n\n```jsx\nfunction handleClick() {\n  setCount((c) => c + 1);\n  setCount((c) => c + 1);\n  setCount((c) => c + 1); // +3\n}\n```\n\nThe same rule explains why `console.log(count)` right after `setCount` still prints the old value: the new value only exists in the next render.
X incorrect | flushSync doesn't fix it, count is still the same snapshot. | This is caused by automatic batching in React 18. Wrap each call in `flushSync(() => setCount(count + 1))` and all three updates will apply.

@ ts-keyof-pluck en typescript ts-generics,ts-narrowing
Q How do I type a `pluck(obj, key)` function in TypeScript so the return type matches the property's type?
A Constrain the key with `keyof` and use an indexed access type for the return:\n\n```ts\nfunction pluck<T, K extends keyof T>(obj: T, key: K): T[K] {\n  return obj[key];\n}\n\nconst user = { id: 1, name: "Ada", admin: false };\nconst name = pluck(user, "name");   // string\nconst admin = pluck(user, "admin"); // boolean\npluck(user, "email");               // compile error\n```\n\nAnd for the array version:\n\n```ts\nfunction pluckAll<T, K extends keyof T>(items: T[], key: K): T[K][] {\n  return items.map((item) => item[key]);\n}\n```

@ llm-token-budget en llm llm-tokens,rag-chunking
Q How can I count tokens before sending a request so we don't blow past the context window? Our prompts include retrieved docs in both English and Korean.
A For OpenAI models, count locally with `tiktoken`:\n\n```python\nimport tiktoken\n\nenc = tiktoken.encoding_for_model("gpt-4o")\n\ndef count_tokens(text: str) -> int:\n    return len(enc.encode(text))\n```\n\nBudget for the whole request: system prompt + retrieved docs + history + question, **plus** the `max_tokens` reserved for the answer, because the context window covers input and output. Chat formatting adds a few tokens per message, so keep a margin.\n\nKorean usually needs noticeably more tokens than English for the same content, so a fixed "top 5 chunks" can overflow on Korean docs. Add chunks in rank order until the token budget is used instead. For Claude or open models use that provider's tokenizer; tiktoken is only an approximation there.
X incorrect | Way off for Korean. We overflowed the context window because of this. | Just divide the character count by 4. That's exact for every model and language, including Korean.

@ k8s-rolling-502 en k8s k8s-rollout,k8s-probes
Q During rolling deployments on Kubernetes we see a burst of 502s from the ingress for a few seconds. How do we get zero-downtime deploys?
A Those 502s usually come from a race at pod termination: the pod gets SIGTERM while it's still being removed from endpoints, so the ingress keeps routing to a process that's shutting down.\n\n```yaml\nspec:\n  strategy:\n    rollingUpdate:\n      maxUnavailable: 0\n      maxSurge: 25%\n  template:\n    spec:\n      terminationGracePeriodSeconds: 40\n      containers:\n        - name: web\n          readinessProbe:\n            httpGet: {path: /readyz, port: 8000}\n          lifecycle:\n            preStop:\n              exec:\n                command: ["sleep", "10"]\n```\n\n- `maxUnavailable: 0` keeps full capacity during the rollout.\n- The readiness probe ensures new pods only get traffic once they can serve it.\n- The `preStop` sleep gives endpoint removal time to propagate before SIGTERM.\n- The app server must finish in-flight requests on SIGTERM (e.g. gunicorn's graceful timeout).
X not_grounded | Grace period 0 made it worse. The fix was a preStop sleep like the doc says. | Set `terminationGracePeriodSeconds: 0` so old pods die immediately and traffic moves to the new pods faster.
F How long should the preStop sleep be? | Long enough for endpoint removal to reach kube-proxy and your ingress controller; 5-15 seconds is typical, so start with 10. Keep `terminationGracePeriodSeconds` larger than the sleep plus your app's graceful shutdown time, because the grace period countdown includes the preStop hook. If the image has no `sleep` binary (distroless), Kubernetes 1.30+ supports a native `sleep` action in `preStop`.
"""

# key | Korean | English. Keys with several lines are alternatives to pick from.
_PHRASES = r"""
pushback.incorrect | 그대로 해봤는데 안 되는데요? 그런 옵션이 있는 게 맞나요? | I tried that and it doesn't work. Are you sure that's right?
pushback.outdated | 그거 예전 버전 방식 아닌가요? 저는 최신 버전 쓰고 있어요. | Isn't that the old way of doing it? I'm on the latest version.
pushback.not_grounded | 참고 문서 내용이랑 다른 것 같은데, 출처가 어디인가요? | The sources you linked don't say that. Where is this coming from?
pushback.harmful | 이거 운영 환경에서 해도 괜찮은 거 맞아요? 좀 위험해 보여서요. | Is that actually safe to run in production? Sounds risky.
pushback.wrong_language | 한국어로 답변해 주세요. | Please answer in English.
pushback.incomplete | 답변이 중간에 끊겼어요. 전체 내용 부탁드려요. | Your answer got cut off. Can you finish it?
pushback.vague | 너무 일반적인 얘기 같아요. 좀 더 구체적으로 알려주세요. | That's pretty generic. Can you be more specific?
pushback.retrieval_miss | 답변 근거로 나온 문서들이 질문이랑 상관없는 것 같은데요? | The documents you cited have nothing to do with my question.
correction.default | 지적해 주셔서 감사합니다. 앞선 답변이 틀렸습니다. 다시 정리하면:\n\n | You're right, my previous answer was wrong. Here's the correct approach:\n\n
correction.harmful | 아니요, 앞선 방법은 운영 환경에서 위험합니다. 죄송합니다. 안전한 방법은 다음과 같습니다.\n\n | No, you're right to double-check: that advice was unsafe. Here's the safe approach.\n\n
correction.wrong_language | 죄송합니다. 한국어로 다시 답변드릴게요.\n\n | Sorry about that. Here's the answer in English.\n\n
correction.incomplete | 답변이 잘려서 죄송합니다. 전체 내용은 다음과 같습니다.\n\n | Sorry about that, here's the full answer.\n\n
correction.vague | 네, 구체적으로 말씀드리면:\n\n | Sure, more concretely:\n\n
correction.retrieval_miss | 다시 검색한 문서를 기준으로 정리하면:\n\n | Based on the documents I found this time:\n\n
vague | {name} 관련 문제는 환경에 따라 원인이 다양할 수 있습니다. 설정을 다시 한번 확인해 보시고, 공식 문서와 로그를 자세히 살펴보시는 것을 추천드립니다. 문제가 계속되면 최신 버전으로 업그레이드해 보세요. | There can be many causes for {name} issues depending on your environment. I'd recommend double-checking your configuration, reviewing the official documentation and looking at the logs for more details. If the problem persists, consider upgrading to the latest version.
down.incorrect | 이 코드 그대로 하면 에러 나요 | This is just wrong.
down.incorrect | 설명이 사실과 달라요 | Tried it, throws an error.
down.not_helpful | 질문이랑 상관없는 답이에요 | Too generic to be useful.
down.not_helpful | 너무 일반적인 얘기라 도움이 안 돼요 | Doesn't answer my question.
down.not_helpful | 제 상황이랑은 좀 달라요 | Didn't solve my issue.
down.outdated | 예전 버전 기준 설명이에요 | This is outdated advice.
down.not_grounded | 링크된 문서에는 이런 내용이 없어요 | The linked doc says the opposite.
down.not_grounded | 참고 문서랑 내용이 반대예요 | None of the sources mention this.
down.harmful | 운영에서 이렇게 하면 큰일 나요 | This would break prod. Dangerous advice.
up | 감사합니다! 바로 해결됐어요 | Exactly what I needed
up | 정리 깔끔하네요 👍 | Thanks, that fixed it.
up | 코드 예시 덕분에 이해했습니다 | Clear explanation, thanks!
up | 오 이거였네요. 감사합니다 | The code sample worked as-is.
"""

SYSTEM_PROMPTS: dict[str, str] = {
    "devot-rag:1": "You are DevOT, an assistant for a developer community. Answer programming "
    "questions using the retrieved documents.",
    "devot-rag:2": "You are DevOT, an assistant for a developer community. Answer using only the "
    "retrieved documents and cite them as [n]. Reply in the same language as the user. Include "
    "code when it helps.",
    "devot-rag:3": "You are DevOT, an assistant for a developer community. Answer using only the "
    "retrieved documents and cite them as [n]. Reply in the same language as the user. If the "
    "documents do not contain the answer, say so instead of guessing. Assume current stable "
    "versions and point out version differences. Never suggest destructive commands without a "
    "warning.",
    "devot-rag-ko:1": "당신은 개발자 커뮤니티 어시스턴트 DevOT입니다. 검색된 문서만 근거로 한국어로 "
    "답변하세요. 코드와 식별자는 원문 그대로 두고, 출처는 [n] 형식으로 표시하세요. 문서에 없는 "
    "내용은 추측하지 말고 모른다고 답하세요.",
}
# Profiles: "1".."3" are devot-rag versions, "ko" is devot-rag-ko v1. Later versions ship
# with a better retriever, which is why they also miss the right documents less often.
RETRIEVERS = {"1": "dense-v1", "2": "hybrid-v2", "3": "hybrid-v2+rerank", "ko": "hybrid-v2-nori"}
MODEL_MIX: dict[str, tuple[tuple[str, int], ...]] = {
    "1": (("gpt-4o-mini", 6), ("qwen2.5-72b-instruct", 3), ("gpt-4.1", 1)),
    "2": (("gpt-4o-mini", 4), ("gpt-4.1", 3), ("claude-sonnet-4", 2), ("qwen2.5-72b-instruct", 1)),
    "3": (("gpt-4.1", 4), ("claude-sonnet-4", 4), ("gpt-4o-mini", 2)),
    "ko": (("qwen2.5-72b-instruct", 4), ("claude-sonnet-4", 3), ("gpt-4.1", 3)),
}
FLAW_RATE = {"1": 0.45, "2": 0.30, "3": 0.17, "ko": 0.22}
# model -> (flaw-rate adjustment, base latency ms, ms per completion token)
MODELS = {
    "gpt-4o-mini": (0.06, 450, 9),
    "gpt-4.1": (-0.03, 800, 16),
    "claude-sonnet-4": (-0.05, 1000, 18),
    "qwen2.5-72b-instruct": (0.05, 700, 24),
}
# tag -> (display name, environments users mention)
TAGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "celery": ("Celery", ("Celery 5.3", "Celery 5.4")),
    "django": ("Django", ("Django 4.2", "Django 5.0", "Django 5.1")),
    "k8s": ("Kubernetes", ("EKS 1.29", "GKE 1.30", "k3s")),
    "postgres": ("PostgreSQL", ("PostgreSQL 15", "PostgreSQL 16", "RDS PostgreSQL 16")),
    "redis": ("Redis", ("Redis 7.2", "ElastiCache Redis 7")),
    "docker": ("Docker", ("Docker Desktop on macOS", "Docker 26 on Ubuntu")),
    "python": ("Python", ("Python 3.11", "Python 3.12")),
    "llm": ("LLM/RAG", ("OpenAI API", "LangChain", "LlamaIndex")),
    "git": ("Git", ("Git 2.44",)),
    "react": ("React", ("React 18", "Next.js 14")),
    "typescript": ("TypeScript", ("TypeScript 5.4", "TypeScript 5.5")),
}
OPENERS = {
    "ko": ("", "", "", "안녕하세요. ", "질문 하나 드려요. ", "급해요 ㅠㅠ "),
    "en": ("", "", "", "Hi! ", "Quick question: ", "Hey all, "),
}
CLOSERS = {
    "ko": (
        "",
        "",
        " 도와주세요 🙏",
        " 혹시 아시는 분 계실까요?",
        " 어디부터 봐야 할지 모르겠네요.",
    ),
    "en": (
        "",
        "",
        " Thanks in advance!",
        " Any pointers appreciated.",
        " Not sure where to start.",
    ),
}
CHANNELS = {
    "ko": (("discord", 35), ("slack", 25), ("web", 30), ("vscode", 10)),
    "en": (("discord", 40), ("slack", 20), ("web", 30), ("vscode", 10)),
}
SOURCES_LABEL = {"ko": "참고 문서", "en": "Sources"}

# Feedback reason slugs. Per flaw kind: the reason most users pick, then occasional extras.
REASONS = ("incorrect", "not_helpful", "outdated", "not_grounded", "harmful")
NOISE_REASONS = ("not_helpful", "not_helpful", "incorrect", "outdated")
KIND_REASONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "incorrect": ("incorrect", ("not_helpful", "not_grounded")),
    "outdated": ("outdated", ("incorrect", "not_helpful")),
    "not_grounded": ("not_grounded", ("incorrect",)),
    "harmful": ("harmful", ("incorrect",)),
    "wrong_language": ("not_helpful", ()),
    "incomplete": ("not_helpful", ()),
    "vague": ("not_helpful", ()),
    "retrieval_miss": ("not_grounded", ("not_helpful",)),
}


def _unescape(text: str) -> str:
    return re.sub(r"\\(n|\\)", lambda m: "\n" if m.group(1) == "n" else "\\", text)


def _records(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.strip()]


def _parse_docs(block: str) -> dict[str, tuple[str, str, str, str]]:
    docs = {}
    for line in _records(block):
        key, tag, title, url, text = line.split(" | ", 4)
        docs[key] = (tag, title, url, _unescape(text))
    return docs


def _parse_topics(block: str) -> tuple[Topic, ...]:
    topics: list[Topic] = []
    for line in _records(block):
        head, _, rest = line.partition(" ")
        if head == "@":
            key, lang, tag, docs = rest.split(" ")
            topics.append(Topic(key, lang, tag, "", tuple(docs.split(",")), ""))
        elif head == "Q":
            topics[-1] = topics[-1]._replace(question=_unescape(rest))
        elif head == "A":
            topics[-1] = topics[-1]._replace(answer=_unescape(rest))
        elif head == "X":
            kind, comment, answer = rest.split(" | ", 2)
            flaw = Flaw(kind, _unescape(answer), comment)
            topics[-1] = topics[-1]._replace(flaws=(*topics[-1].flaws, flaw))
        elif head == "F":
            question, answer = rest.split(" | ", 1)
            topics[-1] = topics[-1]._replace(follow=(_unescape(question), _unescape(answer)))
        else:
            raise ValueError(f"unknown topic record: {line[:40]!r}")
    return tuple(topics)


def _parse_phrases(block: str) -> dict[str, dict[str, list[str]]]:
    phrases: dict[str, dict[str, list[str]]] = {}
    for line in _records(block):
        key, ko, en = line.split(" | ", 2)
        entry = phrases.setdefault(key, {"ko": [], "en": []})
        entry["ko"].append(_unescape(ko))
        entry["en"].append(_unescape(en))
    return phrases


DOCS = _parse_docs(_DOCS)
DOC_IDS = {key: f"doc-{n}" for n, key in enumerate(DOCS, start=1)}
DOCS_BY_TAG = {tag: [key for key, doc in DOCS.items() if doc[0] == tag] for tag in sorted(TAGS)}
TOPICS = _parse_topics(_TOPICS)
PHRASES = _parse_phrases(_PHRASES)
VAGUE_TEXTS = {
    PHRASES["vague"][lang][0].format(name=name)
    for lang in ("ko", "en")
    for name, _ in TAGS.values()
}


def _phrase(key: str, lang: str) -> str:
    return PHRASES[key][lang][0]


def _iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _tokens(text: str) -> int:
    # Rough tokenizer stand-in: ~4 ASCII chars per token, about one token per Hangul syllable.
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return max(1, round(ascii_chars / 4 + (len(text) - ascii_chars) * 0.9))


def _whole_seconds(latency_ms: int) -> datetime.timedelta:
    # Timestamps are second-precision, so round up to keep them strictly increasing.
    return datetime.timedelta(seconds=max(1, -(-latency_ms // 1000)))


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in pairs], weights=[w for _, w in pairs])[0]


def _context(key: str, score: float) -> dict:
    _tag, title, url, text = DOCS[key]
    return {"id": DOC_IDS[key], "title": title, "url": url, "text": text, "score": round(score, 3)}


def _relevant_contexts(topic: Topic, rng: random.Random) -> list[dict]:
    contexts, score = [], rng.uniform(0.82, 0.93)
    for key in topic.docs:
        contexts.append(_context(key, score))
        score -= rng.uniform(0.02, 0.08)
    # Same-tag neighbours fill the list up, as a real top-k would.
    pool = [k for k in DOCS_BY_TAG[topic.tag] if k not in topic.docs]
    extra = min(rng.choice((0, 0, 1, 1, 2)), 5 - len(contexts), len(pool))
    if len(contexts) + extra < 2:
        extra = min(2 - len(contexts), len(pool))
    for key in rng.sample(pool, extra):
        contexts.append(_context(key, rng.uniform(0.55, min(0.72, score))))
    return sorted(contexts, key=lambda c: -c["score"])


def _unrelated_contexts(topic: Topic, rng: random.Random) -> list[dict]:
    pool = [k for k, doc in DOCS.items() if doc[0] != topic.tag]
    scores = sorted((rng.uniform(0.41, 0.59) for _ in range(rng.randint(2, 4))), reverse=True)
    return [_context(k, s) for k, s in zip(rng.sample(pool, len(scores)), scores, strict=True)]


def _with_sources(answer: str, lang: str, contexts: list[dict]) -> str:
    cited = ", ".join(f"[{n}] {c['title']}" for n, c in enumerate(contexts[:2], start=1))
    return f"{answer}\n\n{SOURCES_LABEL[lang]}: {cited}"


def _question(topic: Topic, rng: random.Random) -> str:
    text = topic.question
    if rng.random() < 0.35:
        env = rng.choice(TAGS[topic.tag][1])
        text += f" ({env} 사용 중)" if topic.lang == "ko" else f" (on {env})"
    text = rng.choice(OPENERS[topic.lang]) + text + rng.choice(CLOSERS[topic.lang])
    if topic.lang == "en" and rng.random() < 0.1 and text[0].isupper():
        text = text[0].lower() + text[1:]  # people type fast in chat
    return text


def _pick_prompt(t: float, lang: str, rng: random.Random) -> tuple[str, str, str, bool]:
    """(prompt name, version, profile, beta) for a conversation at time fraction t in [0, 1)."""
    if lang == "ko" and t > 0.4 and rng.random() < 0.2:
        return "devot-rag-ko", "1", "ko", True
    if t < 0.3:
        weights = (88, 12, 0)
    elif t < 0.55:
        weights = (25, 70, 5)
    elif t < 0.75:
        weights = (5, 55, 40)
    else:
        weights = (0, 25, 75)
    version = rng.choices(("1", "2", "3"), weights=weights)[0]
    return "devot-rag", version, version, version == "3" and t < 0.7


def _pick_flaw(topic: Topic, profile: str, model: str, rng: random.Random) -> Flaw | None:
    if rng.random() >= FLAW_RATE[profile] + MODELS[model][0]:
        return None
    # Only the v1 system prompt forgets to ask for the user's language.
    specific = [f for f in topic.flaws if f.kind != "wrong_language" or profile == "1"]
    options: list[tuple[Flaw, float]] = [(f, 4.0) for f in specific]
    # Truncated output (max_tokens hit), cut at a word boundary.
    cut = int(len(topic.answer) * rng.uniform(0.3, 0.55))
    space = topic.answer.rfind(" ", 0, cut)
    cut = space if space > 20 else cut
    vague = _phrase("vague", topic.lang).format(name=TAGS[topic.tag][0])
    options += [
        (Flaw("incomplete", topic.answer[:cut].rstrip(), ""), 1.0),
        (Flaw("vague", vague, ""), 1.5 if profile == "1" else 0.5),
        (Flaw("retrieval_miss", topic.answer, ""), {"1": 1.2, "2": 0.7}.get(profile, 0.3)),
    ]
    return rng.choices([f for f, _ in options], weights=[w for _, w in options])[0]


def _assistant(
    mid: str,
    content: str,
    at: datetime.datetime,
    model: str,
    prompt: tuple[str, str, str],
    contexts: list[dict],
    prompt_tokens: int,
    finish: str,
    rng: random.Random,
) -> tuple[dict, int]:
    name, version, profile = prompt
    completion = _tokens(content)
    _adj, base, per_token = MODELS[model]
    latency = int((base + per_token * completion) * rng.uniform(0.8, 1.35)) + rng.randint(120, 450)
    message = {
        "id": mid,
        "role": "assistant",
        "content": content,
        "created_at": _iso(at + _whole_seconds(latency)),
        "model": model,
        "prompt": {"name": name, "version": version},
        "contexts": contexts,
        "latency_ms": latency,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion},
        "metadata": {"retriever": RETRIEVERS[profile], "finish_reason": finish},
    }
    return message, latency


def _search_step(
    count: int, question: str, contexts: list[dict], model: str, at: datetime.datetime
) -> list[dict]:
    """An assistant message that calls the docs search tool, and the tool's result."""
    call_id = f"call_{count + 1}"
    arguments = {"query": question, "top_k": len(contexts)}
    found = [{"id": c["id"], "title": c["title"], "score": c["score"]} for c in contexts]
    return [
        {
            "id": f"m{count + 1}",
            "role": "assistant",
            "content": None,
            "created_at": _iso(at + datetime.timedelta(seconds=1)),
            "model": model,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {
                        "name": "search_docs",
                        "arguments": json.dumps(arguments, ensure_ascii=False),
                    },
                }
            ],
        },
        {
            "id": f"m{count + 2}",
            "role": "tool",
            "tool_call_id": call_id,
            "content": json.dumps(found, ensure_ascii=False),
            "created_at": _iso(at + datetime.timedelta(seconds=2)),
        },
    ]


def _conversation(
    conv_id: str, topic: Topic, user: str, start: datetime.datetime, t: float, rng: random.Random
) -> dict:
    name, version, profile, beta = _pick_prompt(t, topic.lang, rng)
    prompt = (name, version, profile)
    model = _weighted(rng, MODEL_MIX[profile])
    system = SYSTEM_PROMPTS[f"{name}:{version}"]
    messages: list[dict] = []
    if rng.random() < 0.9:
        messages.append({"id": "m1", "role": "system", "content": system})
    history = _tokens(system) + 20

    def add_user(text: str, at: datetime.datetime) -> None:
        nonlocal history
        messages.append(
            {"id": f"m{len(messages) + 1}", "role": "user", "content": text, "created_at": _iso(at)}
        )
        history += _tokens(text)

    at = start
    question = _question(topic, rng)
    add_user(question, at)
    flaw = _pick_flaw(topic, profile, model, rng)
    good_contexts = _relevant_contexts(topic, rng)
    missed = flaw is not None and flaw.kind == "retrieval_miss"
    contexts = _unrelated_contexts(topic, rng) if missed else good_contexts
    if profile == "3":
        # The latest prompt retrieves through function calling: the search call and its
        # result come before the answer.
        messages.extend(_search_step(len(messages), question, contexts, model, at))
        at += datetime.timedelta(seconds=2)
    cites = profile != "1"
    if flaw is None:
        content = _with_sources(topic.answer, topic.lang, contexts) if cites else topic.answer
    elif flaw.kind in ("retrieval_miss", "not_grounded") and cites:
        # Confidently citing documents that don't say it.
        content = _with_sources(flaw.answer, topic.lang, contexts)
    else:
        content = flaw.answer
    ctx_tokens = sum(_tokens(c["text"]) + 8 for c in contexts)
    finish = "length" if flaw is not None and flaw.kind == "incomplete" else "stop"
    mid = f"m{len(messages) + 1}"
    reply, latency = _assistant(
        mid, content, at, model, prompt, contexts, history + ctx_tokens, finish, rng
    )
    messages.append(reply)
    history += reply["usage"]["completion_tokens"]
    at += _whole_seconds(latency)

    # A second exchange: pushback after a bad answer, or the topic's natural follow-up.
    second: tuple[str, str] | None = None
    if flaw is not None and rng.random() < 0.5:
        fix = (
            f"correction.{flaw.kind}"
            if f"correction.{flaw.kind}" in PHRASES
            else "correction.default"
        )
        second = (
            _phrase(f"pushback.{flaw.kind}", topic.lang),
            _phrase(fix, topic.lang) + topic.answer,
        )
    elif flaw is None and topic.follow and rng.random() < 0.4:
        second = topic.follow
    if second:
        at += datetime.timedelta(seconds=rng.randint(20, 240))
        add_user(second[0], at)
        answer = _with_sources(second[1], topic.lang, good_contexts) if cites or flaw else second[1]
        ctx_tokens = sum(_tokens(c["text"]) + 8 for c in good_contexts)
        mid = f"m{len(messages) + 1}"
        reply, _ = _assistant(
            mid, answer, at, model, prompt, good_contexts, history + ctx_tokens, "stop", rng
        )
        messages.append(reply)

    tags = ["demo", topic.lang]
    if rng.random() < 0.7:
        tags.append(topic.tag)
    if beta:
        tags.append("beta")
    return {
        "id": conv_id,
        "user": user,
        "tags": tags,
        "metadata": {"channel": _weighted(rng, CHANNELS[topic.lang])},
        "created_at": _iso(start),
        "messages": messages,
    }


def _hour_weight(moment: datetime.datetime, lang: str) -> float:
    # Korean users live in UTC+9, English users are spread around UTC-5..UTC+1.
    hour = (moment.hour + (9 if lang == "ko" else -2)) % 24
    if 9 <= hour <= 18:
        return 1.0
    if 19 <= hour <= 23:
        return 0.7
    return 0.4 if hour == 8 else 0.12


# The conversations are drawn over the 30 days before this moment, then moved by whole
# days to end where the caller's day starts: what they say never depends on when they
# are made (the hour of day shapes the traffic), so re-seeding finds the same data.
REFERENCE_NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def demo_conversations(*, count: int = 300, seed: int = 7, now: datetime.datetime) -> list[dict]:
    """Conversation payloads in the ingestion API contract, oldest first, spread over the
    30 days before the start of `now`'s day (UTC). The same count and seed give the same
    conversations whatever `now` is, only their times moved by whole days."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=datetime.UTC)
    day = now.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    shift = day - REFERENCE_NOW
    return [
        _moved(conversation, shift)
        for conversation in _drawn_conversations(count=count, seed=seed, now=REFERENCE_NOW)
    ]


def _moved(conversation: dict, shift: datetime.timedelta) -> dict:
    """The conversation with its and its messages' times moved by `shift`."""

    def moved(stamp: str) -> str:
        return _iso(datetime.datetime.fromisoformat(stamp) + shift)

    return {
        **conversation,
        "created_at": moved(conversation["created_at"]),
        "messages": [
            {**message, "created_at": moved(message["created_at"])}
            if "created_at" in message
            else message
            for message in conversation["messages"]
        ],
    }


def _drawn_conversations(*, count: int, seed: int, now: datetime.datetime) -> list[dict]:
    rng = random.Random(f"demo-conversations:{seed}")
    window = 30 * 24 * 3600
    origin = now - datetime.timedelta(seconds=window)
    # Heavy-tailed activity: a few regulars ask most of the questions.
    activity = {n: rng.paretovariate(1.3) for n in range(1, 81)}
    pools = {"ko": list(range(1, 45)), "en": list(range(37, 81))}  # 37..44 ask in both languages

    drafts: list[tuple[datetime.datetime, Topic, str]] = []
    for _ in range(count):
        topic = rng.choice(TOPICS)
        pool = pools[topic.lang]
        user = f"u-{rng.choices(pool, weights=[activity[n] for n in pool])[0]:03d}"
        while True:  # rejection sampling: more traffic in waking hours, and later (adoption grows)
            offset = rng.uniform(0, window - 900)
            moment = origin + datetime.timedelta(seconds=int(offset))
            if rng.random() < _hour_weight(moment, topic.lang) * (0.6 + 0.4 * offset / window):
                break
        drafts.append((moment, topic, user))
    drafts.sort(key=lambda d: (d[0], d[1].key, d[2]))

    width = max(4, len(str(count)))
    return [
        _conversation(
            f"demo-conv-{n:0{width}d}", topic, user, moment, (moment - origin) / (now - origin), rng
        )
        for n, (moment, topic, user) in enumerate(drafts, start=1)
    ]


def _judge(message: dict) -> tuple[str | None, str]:
    """Recover (flaw kind, user comment) of an assistant message from its content alone."""
    content = message.get("content", "")
    if message.get("metadata", {}).get("finish_reason") == "length":
        return "incomplete", ""
    for topic in TOPICS:
        for flaw in topic.flaws:
            if content.startswith(flaw.answer):
                return flaw.kind, flaw.comment
    if content in VAGUE_TEXTS:
        return "vague", ""
    scores = [c.get("score") or 0 for c in message.get("contexts", [])]
    if scores and max(scores) < 0.6:
        return "retrieval_miss", ""
    return None, ""


def demo_feedback(*, conversations: list[dict], seed: int = 7) -> list[dict]:
    """End-user votes for some assistant messages of those conversations."""
    rng = random.Random(f"demo-feedback:{seed}")
    votes: list[dict] = []
    seen: set[tuple[str, str, str]] = set()
    for conv in conversations:
        lang = "ko" if "ko" in conv.get("tags", []) else "en"
        user = conv.get("user") or "anonymous"
        for message in conv.get("messages", []):
            key = (conv["id"], message["id"], user)
            # Votes go to answers, not to the steps that only call tools.
            if message.get("role") != "assistant" or message.get("tool_calls") or key in seen:
                continue
            kind, specific = _judge(message)
            if rng.random() >= (0.74 if kind else 0.55):
                continue
            seen.add(key)
            # Mostly consistent with quality, with some noise in both directions.
            down = rng.random() < (0.88 if kind else 0.15)
            reasons: list[str] = []
            comment = ""
            if down:
                if kind:
                    primary, extras = KIND_REASONS[kind]
                else:  # a fine answer that still didn't help this user
                    primary, extras = rng.choice(NOISE_REASONS), ()
                reasons.append(primary)
                if extras and rng.random() < 0.35:
                    reasons.append(rng.choice(extras))
                if rng.random() < 0.7:
                    generic = rng.choice(PHRASES[f"down.{primary}"][lang])
                    comment = specific if specific and rng.random() < 0.65 else generic
            elif rng.random() < 0.3:
                comment = rng.choice(PHRASES["up"][lang])
            votes.append(
                {
                    "conversation": conv["id"],
                    "message": message["id"],
                    "user": user,
                    "rating": "down" if down else "up",
                    "reasons": reasons,
                    "comment": comment,
                }
            )
    return votes


# The reviewers of the demo, and the default rubric's error categories for each flaw kind.
REVIEWERS = ("mina", "joon")
FLAW_ERRORS: dict[str, list[str]] = {
    "incorrect": ["factually_wrong"],
    "outdated": ["outdated"],
    "not_grounded": ["hallucination"],
    "harmful": ["unsafe"],
    "wrong_language": ["wrong_language"],
    "incomplete": ["incomplete"],
    "vague": [],
    "retrieval_miss": ["hallucination", "irrelevant"],
}
LABELED_SHARE = 0.2


def _topic_of(conversation: dict) -> Topic | None:
    """The topic a conversation's first user turn asks about (its question, as typed)."""
    first = next((m for m in conversation["messages"] if m["role"] == "user"), None)
    if first is None:
        return None
    text = first["content"].casefold()
    found = [topic for topic in TOPICS if topic.question.casefold() in text]
    return max(found, key=lambda topic: len(topic.question), default=None)


def demo_labels(*, conversations: list[dict], seed: int = 7) -> list[dict]:
    """Reviewers' labels (the default RAG rubric's answers) on the first answer of about a
    fifth of the conversations, by one reviewer or both: ratings that follow the
    answer's quality, with some disagreement; the error categories of its flaw; and for
    most flawed answers the topic's good answer as the corrected answer."""
    rng = random.Random(f"demo-labels:{seed}")
    labels: list[dict] = []
    for conv in conversations:
        answers = [
            m for m in conv["messages"] if m["role"] == "assistant" and not m.get("tool_calls")
        ]
        if not answers or rng.random() >= LABELED_SHARE:
            continue
        message = answers[0]
        kind, _ = _judge(message)
        topic = _topic_of(conv)
        reviewers = REVIEWERS if rng.random() < 0.3 else (rng.choice(REVIEWERS),)
        for reviewer in reviewers:
            if kind:
                answers_given: dict = {
                    "correctness": rng.randint(1, 2 if kind in ("incorrect", "harmful") else 3),
                    "groundedness": rng.randint(1, 3),
                    "helpfulness": rng.randint(1, 3),
                    "errors": FLAW_ERRORS[kind],
                }
                if topic is not None and rng.random() < 0.7:
                    answers_given["corrected_answer"] = topic.answer
            else:
                answers_given = {
                    "correctness": rng.choice((4, 5, 5)),
                    "groundedness": rng.choice((3, 4, 5)),
                    "helpfulness": rng.choice((4, 4, 5)),
                }
            labels.append(
                {
                    "conversation": conv["id"],
                    "message": message["id"],
                    "reviewer": reviewer,
                    "answers": answers_given,
                }
            )
    return labels

// Numbered, append-only schema migrations. Never edit a shipped entry: add a new one.
// `PRAGMA user_version` records how many have been applied.

export const migrations: readonly string[] = [
  // 1: the job table, the worker table and a key/value meta table.
  `
  CREATE TABLE jobs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    handle       TEXT NOT NULL UNIQUE,
    status       TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    time_limit   INTEGER NOT NULL,
    mem          INTEGER NOT NULL,
    worker_pin   TEXT,
    spec         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    worker       TEXT,
    worker_host  TEXT,
    lease        TEXT,
    attempt      INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER,
    finished_at  INTEGER,
    exit_code    INTEGER,
    exit_reason  TEXT,
    real_time    REAL NOT NULL DEFAULT -1,
    user_time    REAL NOT NULL DEFAULT -1,
    max_mem      REAL NOT NULL DEFAULT -1,
    max_disk     REAL NOT NULL DEFAULT -1
  );
  CREATE INDEX jobs_pick ON jobs(status, priority, seq);
  CREATE INDEX jobs_worker ON jobs(worker) WHERE worker IS NOT NULL;
  CREATE TABLE workers (
    handle     TEXT PRIMARY KEY,
    info       TEXT NOT NULL,
    last_seen  INTEGER NOT NULL
  );
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 2: a kill asked of an active job, so that a requeue (its worker lost) does not undo it.
  `ALTER TABLE jobs ADD COLUMN kill_reason TEXT;`,
  // 3: whether a job runs in Docker (the scheduler matches it to workers with an engine), and
  // the memory a running job uses now.
  `ALTER TABLE jobs ADD COLUMN docker INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN cur_mem REAL NOT NULL DEFAULT -1;`,
  // 4: what a job needs of its worker besides memory and time: CPUs, GPUs, a queue.
  `ALTER TABLE jobs ADD COLUMN cpus REAL;
   ALTER TABLE jobs ADD COLUMN gpus INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN queue TEXT;`,
  // 5: how many times a job may lose its worker and be queued again, and how often it has.
  `ALTER TABLE jobs ADD COLUMN retries INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE jobs ADD COLUMN lost INTEGER NOT NULL DEFAULT 0;`,
  // 6: how much of an ended job's output was dropped from the middle of its log (-logLimit).
  `ALTER TABLE jobs ADD COLUMN log_dropped INTEGER NOT NULL DEFAULT 0;`,
  // 7: requirement classes (store/readyClasses.ts). Jobs that need the same of a worker share a
  // class; the pick looks at the head of each class that fits, through an index of ready jobs
  // by class, so jobs no worker can take cost it nothing.
  `CREATE TABLE classes (
     id          INTEGER PRIMARY KEY,
     key         TEXT NOT NULL UNIQUE,
     mem         INTEGER NOT NULL,
     time_limit  INTEGER NOT NULL,
     worker_pin  TEXT,
     docker      INTEGER NOT NULL,
     cpus        REAL,
     gpus        INTEGER NOT NULL,
     queue       TEXT
   );
   INSERT OR IGNORE INTO classes (key, mem, time_limit, worker_pin, docker, cpus, gpus, queue)
     SELECT json_array(mem, time_limit, worker_pin, docker, cpus, gpus, queue), mem, time_limit, worker_pin, docker, cpus, gpus, queue
     FROM jobs GROUP BY 1;
   ALTER TABLE jobs ADD COLUMN class INTEGER;
   UPDATE jobs SET class = (SELECT id FROM classes
     WHERE key = json_array(jobs.mem, jobs.time_limit, jobs.worker_pin, jobs.docker, jobs.cpus, jobs.gpus, jobs.queue));
   CREATE INDEX jobs_ready ON jobs(class, priority, seq) WHERE status = 'ready';`,
  // 8: listings by index (store/jobPages.ts): by status, queue and tag in table order, and the
  // finished jobs by when they finished (-keepFinished). Tags get a table of their own, kept
  // by triggers, since they live inside the spec.
  `CREATE INDEX jobs_status ON jobs(status);
   CREATE INDEX jobs_queue ON jobs(queue) WHERE queue IS NOT NULL;
   CREATE INDEX jobs_finished ON jobs(finished_at) WHERE status IN ('done', 'failed');
   CREATE TABLE job_tags (
     tag  TEXT NOT NULL,
     seq  INTEGER NOT NULL,
     PRIMARY KEY (tag, seq)
   ) WITHOUT ROWID;
   INSERT OR IGNORE INTO job_tags (tag, seq) SELECT t.value, jobs.seq FROM jobs, json_each(jobs.spec, '$.tags') AS t;
   CREATE TRIGGER job_tags_add AFTER INSERT ON jobs BEGIN
     INSERT OR IGNORE INTO job_tags (tag, seq) SELECT value, NEW.seq FROM json_each(NEW.spec, '$.tags');
   END;
   CREATE TRIGGER job_tags_drop AFTER DELETE ON jobs BEGIN
     DELETE FROM job_tags WHERE seq = OLD.seq AND tag IN (SELECT value FROM json_each(OLD.spec, '$.tags'));
   END;`,
  // 9: the pick reads jobs_ready (7) and listings jobs_status (8): the first pick index is read
  // by nothing and was only written, on every change of a job's status.
  `DROP INDEX jobs_pick;`,
  // 10: workflows. A job is held (status 'held', never claimed) while the user holds it
  // (hold = 1) or while it waits for jobs (waiting: how many of its job_deps are not met yet;
  // wait_reason: what -list says meanwhile). job_deps: one row per job waited for, found by
  // the job that ended (dep) when it ends, and by the waiting job (seq) when it goes.
  `ALTER TABLE jobs ADD COLUMN hold INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN wait_reason TEXT;
   CREATE TABLE job_deps (
     dep  INTEGER NOT NULL,
     seq  INTEGER NOT NULL,
     any  INTEGER NOT NULL,
     met  INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (dep, seq)
   ) WITHOUT ROWID;
   CREATE INDEX job_deps_seq ON job_deps(seq);
   CREATE TRIGGER job_deps_drop AFTER DELETE ON jobs BEGIN
     DELETE FROM job_deps WHERE seq = OLD.seq;
     DELETE FROM job_deps WHERE dep = OLD.seq;
   END;`,
  // 11: -retry and arrays. A failed command waits (held) until retry_at, then runs again;
  // retried counts the retries made, retry_codes their exit codes; the timer reads jobs_retry.
  // Jobs added together name the first of them (array_of, also in their spec): `-list array:J-…`.
  // A column, not an index on the spec's JSON: that parsed every job's spec at every insert.
  `ALTER TABLE jobs ADD COLUMN retry_max INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN retried INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN retry_at INTEGER;
   ALTER TABLE jobs ADD COLUMN retry_codes TEXT NOT NULL DEFAULT '[]';
   CREATE INDEX jobs_retry ON jobs(retry_at) WHERE retry_at IS NOT NULL;
   ALTER TABLE jobs ADD COLUMN array_of TEXT;
   CREATE INDEX jobs_array ON jobs(array_of, seq) WHERE array_of IS NOT NULL;`,
  // 12: how many jobs each status and queue holds ('' for none), kept by triggers so that a
  // count (status counts on the dashboard, q_jobs in /metrics) reads a few rows, not the table.
  `CREATE TABLE job_counts (
     status TEXT NOT NULL,
     queue  TEXT NOT NULL,
     n      INTEGER NOT NULL,
     PRIMARY KEY (status, queue)
   ) WITHOUT ROWID;
   INSERT INTO job_counts (status, queue, n) SELECT status, coalesce(queue, ''), count(*) FROM jobs GROUP BY 1, 2;
   CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
     INSERT INTO job_counts (status, queue, n) VALUES (NEW.status, coalesce(NEW.queue, ''), 1)
       ON CONFLICT (status, queue) DO UPDATE SET n = n + 1;
   END;
   CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
     UPDATE job_counts SET n = n - 1 WHERE status = OLD.status AND queue = coalesce(OLD.queue, '');
   END;
   CREATE TRIGGER job_counts_update AFTER UPDATE OF status, queue ON jobs
     WHEN OLD.status IS NOT NEW.status OR OLD.queue IS NOT NEW.queue BEGIN
     UPDATE job_counts SET n = n - 1 WHERE status = OLD.status AND queue = coalesce(OLD.queue, '');
     INSERT INTO job_counts (status, queue, n) VALUES (NEW.status, coalesce(NEW.queue, ''), 1)
       ON CONFLICT (status, queue) DO UPDATE SET n = n + 1;
   END;`,
  // 13: where this database's job handles start (store/handles.ts): drawn once, kept for good.
  `INSERT OR IGNORE INTO meta (key, value) VALUES ('handle_base', CAST(abs(random() % 2176782336) AS TEXT));`,
  // 14: a class also says whether its jobs ask for a network and which image they name, so
  // that a pick passes over jobs a worker's policy refuses (protocol/containerPolicy.ts). The
  // jobs move to the classes with those two from their specs; the old classes go.
  `ALTER TABLE classes ADD COLUMN network INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE classes ADD COLUMN image TEXT;
   CREATE TEMP TABLE class_moves AS
     SELECT jobs.seq AS seq, c.mem, c.time_limit, c.worker_pin, c.docker, c.cpus, c.gpus, c.queue,
            coalesce(json_extract(jobs.spec, '$.network'), 0) AS network, json_extract(jobs.spec, '$.dockerImage') AS image
     FROM jobs JOIN classes c ON c.id = jobs.class;
   INSERT OR IGNORE INTO classes (key, mem, time_limit, worker_pin, docker, cpus, gpus, queue, network, image)
     SELECT json_array(mem, time_limit, worker_pin, docker, cpus, gpus, queue, network, image), mem, time_limit, worker_pin, docker, cpus, gpus, queue, network, image
     FROM class_moves GROUP BY 1;
   UPDATE jobs SET class = (SELECT c.id FROM class_moves m JOIN classes c
       ON c.key = json_array(m.mem, m.time_limit, m.worker_pin, m.docker, m.cpus, m.gpus, m.queue, m.network, m.image)
     WHERE m.seq = jobs.seq)
   WHERE class IS NOT NULL;
   DELETE FROM classes WHERE json_array_length(key) = 7;
   DROP TABLE class_moves;`,
  // 15: an add of many batches is one thing (store/adds.ts). Its jobs are written batch by
  // batch with add_id set and one more to wait for (the add itself), so that none can run;
  // the last batch commits the add (one row), and its jobs are then let go a slice at a time.
  // A master that stops before the commit deletes them when it opens; after it, lets them go.
  `ALTER TABLE jobs ADD COLUMN add_id TEXT;
   CREATE INDEX jobs_add ON jobs(add_id, seq) WHERE add_id IS NOT NULL;
   CREATE TABLE adds (
     id         TEXT PRIMARY KEY,
     state      TEXT NOT NULL,
     jobs       INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX adds_created ON adds(created_at);`,
  // 16: why the ready jobs of a class wait, when no connected worker could take them
  // (store/classReasons.ts): shown for a ready job in place of its exit reason.
  `CREATE TABLE class_reasons (class INTEGER PRIMARY KEY, reason TEXT NOT NULL);`,
];

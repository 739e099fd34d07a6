export const HELP = `bt-ps — federated training with BitTorrent-style model distribution

Usage: bt-ps <command> [flags]     bt-ps --version     bt-ps <command> -h

  up        local cluster (tracker + server + N clients on 127.0.0.1) running a short job
  tracker   the BitTorrent tracker (HTTP + UDP announce on one port, /stats)
  server    the server peer (global model, rounds, aggregation, admin API)
  client    one client peer
  clients   many client ids in one process (one peer, one copy of the data, one trainer)
  round     trigger rounds on a running server: --server URL [--rounds N] [--wait] [--json]
  stop      drop the queued rounds (--now: abort the one in progress too): --server URL [--now]
  status    logged-in clients, current round, last results: --server URL [--json]
  logs      export (CSV/JSON), follow a server's round events, plot accuracy and loss to SVG
  stack     the job as a docker swarm stack: secrets|generate|deploy|rm|ps --config FILE
  config    config schema: a JSON Schema of job files, for editors
  completion  completion bash|zsh: a shell completion script

Every role takes --config FILE (YAML; without it BTPS_CONFIG, then ./bt-ps.yml); BTPS_<SECTION>_<KEY>
env vars override the file and flags override both; any field can be set as --section.key VALUE
(e.g. --job.local_epochs 2). Metrics: GET /metrics on the server's admin port, the tracker's HTTP port
and a client's --client.metrics_port; the dashboard: the admin URL in a browser.
Run bt-ps <command> --help for its flags.
`

const JOB = `  --model mlp|cnn|cnn-large  --hidden-units N  --frozen-layers N  --dataset mnist|fashion-mnist|file  --data-path DIR
  --rounds N  --clients N  --k K  --over-commitment X  --transfer bt|ps  --upload swarm|direct
  --selection random|oort|contribution  --replay TRACE  --job.profiles FILE
  --aggregation fedavg|fedprox  --mu X  --local-epochs N  --batch-size N  --lr X
  --test-interval N  --round-timeout S  --partition iid|dirichlet|natural  --alpha X  --seed N
  --config FILE  --log-level debug|info|warn|error`

const COMMANDS: Record<string, string> = {
  up: `bt-ps up [--clients N] [--rounds R] [--config FILE] [--log-dir DIR] [--clients-per-process M] [job flags]\n  Starts tracker, server and N clients on 127.0.0.1, runs R rounds, prints a table. Ctrl-C stops all. Up to 8\n  clients run as a process each; more as "bt-ps clients" processes of ceil(N / 4) ids (or of M ids each).\n${JOB}\n`,
  tracker: 'bt-ps tracker [--host H] [--port P] [--announce-interval S] [--config FILE]\n',
  server: `bt-ps server [--tracker URL] [--host H] [--p2p-port P] [--admin-host H] [--admin-port P] [--runs-dir D]\n             [--checkpoint-dir D] [--backend B] [--start-rounds N] [job flags]\n  The admin port serves the API (/api/...), Prometheus metrics (/metrics, behind the token unless\n  server.metrics_public: yes) and the live dashboard (/).\n${JOB}\n`,
  client: `bt-ps client --server ADDR [--tracker URL] [--id ID] [--host H] [--backend auto|tensorflow|webgpu|wasm|cpu] [job flags]\n  ADDR: host:port or a multiaddr of the server's libp2p listener. --client.metrics_port P serves Prometheus\n  metrics at http://HOST:P/metrics (0: a free port, named in the ready line).\n${JOB}\n`,
  clients: `bt-ps clients --count N [--id-prefix P] --server ADDR [--tracker URL] [--host H] [--backend B] [job flags]\n  Runs N client ids, P-001 ... P-N (default P: client-<the end of this process's peer id>), in one process:\n  one libp2p and BitTorrent peer, one tfjs backend, one copy of the data and one model, which trains the round's\n  selected ids in turn. Each id logs in, is selected and sends its update as a client of its own; a round's\n  model is downloaded once for all of them. The server must allow it: --server.max_ids_per_peer N.\n${JOB}\n`,
  round: 'bt-ps round --server URL [--rounds N] [--wait] [--json] [--token T | --token-file FILE]\n  URL: the server\'s admin API, e.g. http://127.0.0.1:8080. The bearer token is in the server\'s\n  server.admin_token_file (default <checkpoint_dir>/<job>/admin-token); BTPS_ADMIN_TOKEN(_FILE) work too.\n',
  status: 'bt-ps status --server URL [--json] [--token T | --token-file FILE]\n',
  stop: 'bt-ps stop --server URL [--now] [--json] [--token T | --token-file FILE]\n  Drops the queued rounds; the one in progress finishes. --now aborts it too: clients are told, nothing of it\n  is aggregated, the checkpoint keeps the last finished round, and the round is listed as aborted.\n',
  stack: `bt-ps stack secrets --config FILE            make the job's key and the server's key (mode 0600) if missing
bt-ps stack generate --config FILE [-o FILE]   write the docker stack (compose v3.8) for the job (needs the keys)
bt-ps stack deploy --config FILE [--name STACK]     make the keys if missing, generate and run docker stack deploy
bt-ps stack rm [--config FILE | --name STACK]       docker stack rm
bt-ps stack ps [--config FILE | --name STACK] [--json]  the stack's services and tasks
  FILE is a job config with a cluster: section (see configs/cluster.yml); --section.key VALUE overrides it.
  The docker CLI talks to the engine DOCKER_HOST names; DOCKER names another docker binary.
`,
  logs: `bt-ps logs export [--format csv|json | --json] [--runs DIR] [--out FILE]
  Every TensorBoard scalar under DIR (default runs): CSV run,step,wall_time,<tags>, or JSON rows.
bt-ps logs follow --server URL [--rounds N] [--json] [--token T | --token-file FILE]
  The server's round events as they happen (announced, finished, stopped) and clients' state changes;
  until Ctrl-C or after N rounds finish. --json: one object per line.
bt-ps logs plot [--runs DIR] -o FILE.svg
  Test accuracy and loss of every run under DIR, against round and against time, as one SVG.
`,
  config: 'bt-ps config schema\n  Prints a JSON Schema (2020-12) of job files; e.g. `bt-ps config schema > bt-ps.schema.json` and\n  `# yaml-language-server: $schema=bt-ps.schema.json` at the top of a job file.\n',
  completion: 'bt-ps completion bash|zsh\n  Prints a completion script: eval "$(bt-ps completion bash)" in ~/.bashrc (zsh: after compinit).\n'
}

export function commandHelp (command: string): string {
  return COMMANDS[command] ?? HELP
}

// The three-broker cluster of deploy/docker-compose.yml, in containers of the image
// deploy/build-image makes from this build (ctest label `docker`). Clients on the host reach it
// on 127.0.0.1 through the published ports; rillctl reaches it from a container inside the
// compose network. Nothing else is contacted.
//
// Every test runs its own compose project, "rilltest-<pid>-<n>", with host ports picked free,
// and takes it down with its volumes when it ends, failed or not. A project whose test process
// died without cleaning up (a ctest timeout kills it) is taken down by the next test that runs.
//
// Where no Docker engine answers, each test prints a SKIP line and exits with 77, which ctest
// counts as skipped.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "format/murmur2.h"
#include "rill/admin.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "tests/support/checked_workload.h"
#include "tests/support/client_util.h"
#include "tests/support/history_checker.h"
#include "tests/support/live_test.h"

namespace rill::testing {
namespace {

constexpr char kComposeFile[] = RILL_SOURCE_DIR "/deploy/docker-compose.yml";
constexpr char kImage[] = "rill:latest";
constexpr int kBrokers = 3;
constexpr int kSkipped = 77;

struct CommandResult {
  int status = -1;  // the exit status; -1 when it was killed at its deadline
  std::string output;  // stdout
  std::string errors;  // stderr (docker-compose's progress lines go there)
};

// Runs `args` (found on PATH) with `env` added to the environment and `input` on stdin, until it
// exits or `timeout` passes (then it is killed).
CommandResult RunCommand(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {},
                         const std::string& input = "",
                         std::chrono::seconds timeout = std::chrono::seconds(300)) {
  int out[2];
  int err[2];
  int in[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(pipe2(err, O_CLOEXEC) == 0);
  REQUIRE(pipe2(in, O_CLOEXEC) == 0);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), 1);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  signal(SIGPIPE, SIG_IGN);
  if (!input.empty()) {
    // Inputs here are small (a pipe holds 64 KiB); a command that does not read gets EPIPE.
    (void)!write(in[1], input.data(), input.size());
  }
  close(in[1]);
  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.output, &result.errors};
  int open_streams = 2;
  char buffer[8192];
  while (open_streams > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0 || poll(fds, 2, static_cast<int>(left)) <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
        continue;
      }
      close(fds[i].fd);
      fds[i].fd = -1;
      --open_streams;
    }
  }
  for (const pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  result.status = killed ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// The command's output, requiring it to succeed.
std::string Must(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {},
                 const std::string& input = "") {
  const CommandResult r = RunCommand(args, env, input);
  std::string command;
  for (const auto& a : args) command += a + " ";
  INFO(command << "\n" << r.output << r.errors);
  REQUIRE(r.status == 0);
  return r.output;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Exits the test program with kSkipped when no Docker engine answers: ctest shows the test as
// skipped, and the SKIP line says why.
void SkipWithoutDocker() {
  static const bool answers = [] {
    const CommandResult info = RunCommand({"docker", "info", "--format", "{{.ServerVersion}}"},
                                          {}, "", std::chrono::seconds(30));
    if (info.status != 0) {
      const std::string why = info.status == 127 ? "the docker command is not installed"
                                                 : "docker info: " + Trimmed(info.errors);
      std::printf("SKIP: no Docker engine answers (%s)\n", why.c_str());
      return false;
    }
    return true;
  }();
  if (!answers) {
    std::fflush(stdout);
    std::_Exit(kSkipped);
  }
  INFO("the Docker engine answers, but docker-compose is missing (scripts/setup installs it)");
  REQUIRE(RunCommand({"docker-compose", "version", "--short"}).status == 0);
}

// Builds rill:latest from this build's binaries (deploy/build-image); its output names the size.
std::string BuildImage() {
  return Trimmed(Must({RILL_SOURCE_DIR "/deploy/build-image", "--build-dir", RILL_BUILD_DIR}));
}

std::string ImageId() { return Trimmed(Must({"docker", "image", "inspect", "-f", "{{.Id}}", kImage})); }

// Every compose project named here whose test process is gone: taken down with its volumes.
void SweepAbandonedProjects(const std::map<std::string, std::string>& env) {
  std::set<std::string> projects;
  const std::string label = "{{.Label \"com.docker.compose.project\"}}";
  for (const auto& listing :
       {RunCommand({"docker", "ps", "-a", "--format", label}),
        RunCommand({"docker", "network", "ls", "--format", label}),
        RunCommand({"docker", "volume", "ls", "--format", label})}) {
    for (const auto& name : Lines(listing.output)) {
      if (name.rfind("rilltest-", 0) == 0) projects.insert(name);
    }
  }
  for (const auto& name : projects) {
    const pid_t owner = static_cast<pid_t>(std::atoi(name.c_str() + 9));
    if (owner > 0 && (kill(owner, 0) == 0 || errno != ESRCH)) continue;
    RunCommand({"docker-compose", "-p", name, "-f", kComposeFile, "down", "-v", "--timeout", "1"},
               env);
  }
}

// One compose project of deploy/docker-compose.yml: three brokers, their volumes and network,
// host ports picked free. Taken down with its volumes when it goes.
class ComposeCluster {
 public:
  ComposeCluster() {
    static int projects = 0;
    project_ = fmt::format("rilltest-{}-{}", getpid(), ++projects);
    env_["RILL_IMAGE"] = kImage;
    for (int node = 1; node <= kBrokers; ++node) {
      ports_[node] = FreePort();
      env_[fmt::format("RILL_{}_PORT", node)] = std::to_string(ports_[node]);
      kafka_ports_[node] = FreePort();
      env_[fmt::format("RILL_{}_KAFKA_PORT", node)] = std::to_string(kafka_ports_[node]);
      env_[fmt::format("RILL_{}_ADMIN_PORT", node)] = std::to_string(FreePort());
    }
    SweepAbandonedProjects(env_);
  }
  ~ComposeCluster() { Down(/*volumes=*/true); }
  ComposeCluster(const ComposeCluster&) = delete;
  ComposeCluster& operator=(const ComposeCluster&) = delete;

  const std::string& project() const { return project_; }
  std::string network() const { return project_ + "_default"; }
  int port(int node) const { return ports_.at(node); }
  int kafka_port(int node) const { return kafka_ports_.at(node); }
  // The Kafka listeners published on the host, as a bootstrap list.
  std::string KafkaBootstrap() const {
    std::string out;
    for (int node = 1; node <= kBrokers; ++node) {
      out += fmt::format("{}localhost:{}", out.empty() ? "" : ",", kafka_ports_.at(node));
    }
    return out;
  }
  std::string Address(int node) const { return fmt::format("localhost:{}", ports_.at(node)); }
  std::map<int, std::string> Addresses() const {
    std::map<int, std::string> out;
    for (int node = 1; node <= kBrokers; ++node) out[node] = Address(node);
    return out;
  }
  std::string Bootstrap() const {
    std::string out;
    for (int node = 1; node <= kBrokers; ++node) out += (out.empty() ? "" : ",") + Address(node);
    return out;
  }

  CommandResult Compose(std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> command = {"docker-compose", "-p", project_, "-f", kComposeFile};
    command.insert(command.end(), args.begin(), args.end());
    return RunCommand(command, env_, input);
  }
  std::string MustCompose(std::vector<std::string> args, const std::string& input = "") {
    const CommandResult r = Compose(args, input);
    INFO("docker-compose " << fmt::format("{}", fmt::join(args, " ")) << "\n"
                           << r.output << r.errors);
    REQUIRE(r.status == 0);
    return r.output;
  }

  void Up() {
    containers_.clear();
    MustCompose({"up", "-d"});
  }
  void Down(bool volumes) {
    containers_.clear();
    std::vector<std::string> args = {"down", "--remove-orphans", "--timeout", "30"};
    if (volumes) args.push_back("-v");
    Compose(args);
  }

  // rillctl in a container of the compose network (the `tools` profile), talking to the
  // brokers by service name.
  CommandResult Rillctl(std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> command = {"--profile", "tools", "run", "--rm", "-T", "rillctl"};
    command.insert(command.end(), args.begin(), args.end());
    return Compose(command, input);
  }
  std::string MustRillctl(std::vector<std::string> args, const std::string& input = "") {
    const CommandResult r = Rillctl(args, input);
    INFO("rillctl " << fmt::format("{}", fmt::join(args, " ")) << "\n" << r.output << r.errors);
    REQUIRE(r.status == 0);
    return r.output;
  }

  // The id of `node`'s container, which stays the same through kill, start, pause and
  // restart; only `up` and `down` replace it.
  std::string Container(int node) {
    auto [it, added] = containers_.try_emplace(node);
    if (added) it->second = Trimmed(MustCompose({"ps", "-q", fmt::format("rill-{}", node)}));
    return it->second;
  }
  std::string Inspect(int node, const std::string& format) {
    return Trimmed(Must({"docker", "inspect", "-f", format, Container(node)}));
  }

  // Waits until every broker's container reports healthy (its /readyz answers 200).
  bool WaitHealthy(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const bool healthy = WaitFor(
        [&] {
          for (int node = 1; node <= kBrokers; ++node) {
            const CommandResult r = RunCommand(
                {"docker", "inspect", "-f", "{{.State.Health.Status}}", Container(node)});
            if (Trimmed(r.output) != "healthy") return false;
          }
          return true;
        },
        timeout);
    if (!healthy) UNSCOPED_INFO(Compose({"logs", "--no-color", "--tail", "60"}).output);
    return healthy;
  }

  // Container docker commands: kill, start, pause, unpause, restart.
  void Docker(const std::string& verb, int node) { Must({"docker", verb, Container(node)}); }

 private:
  std::string project_;
  std::map<int, int> ports_;
  std::map<int, int> kafka_ports_;
  std::map<std::string, std::string> env_;
  std::map<int, std::string> containers_;
};

// A client on the host, bootstrapping through the published ports.
ClientOptions HostClient(const ComposeCluster& cluster) {
  ClientOptions options;
  options.bootstrap_brokers = cluster.Bootstrap();
  options.request_timeout_ms = 10000;
  return options;
}

void CreateTopicFromHost(ComposeCluster& cluster, const std::string& name, int32_t partitions) {
  NewTopic topic;
  topic.name = name;
  topic.partitions = partitions;
  topic.replication_factor = 3;
  auto created = AdminOf(cluster.Bootstrap())->CreateTopic(topic);
  INFO(created.ToString());
  REQUIRE(created.ok());
}

// The uid the broker process of `node`'s container runs as, from the host's /proc.
std::string BrokerUid(ComposeCluster& cluster, int node) {
  std::ifstream status(fmt::format("/proc/{}/status", cluster.Inspect(node, "{{.State.Pid}}")));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      std::string real;
      fields >> real;
      return real;
    }
  }
  return "";
}

TEST_CASE(
    "docker: the image builds without a registry and is reused unchanged, the compose cluster "
    "comes up healthy, clients on the host and in its network create R=3 topics and read each "
    "other's records, a Kafka client on the host reads them too, data survives down and up, and "
    "down -v leaves nothing behind",
    "[docker]") {
  SkipWithoutDocker();
  const std::string built = BuildImage();
  std::printf("%s\n", built.c_str());
  const std::string image = ImageId();
  // Unchanged binaries: every layer is reused and the image is the same.
  BuildImage();
  CHECK(ImageId() == image);
  CHECK(Trimmed(Must({"docker", "image", "inspect", "-f", "{{.Config.User}}", kImage})) ==
        "10001:10001");

  ComposeCluster cluster;
  cluster.Up();
  REQUIRE(cluster.WaitHealthy());
  for (int node = 1; node <= kBrokers; ++node) CHECK(BrokerUid(cluster, node) == "10001");

  // Host clients are told localhost and the published ports; container clients the service
  // names. Each kind reaches every broker through its own listener.
  auto described = AdminOf(cluster.Bootstrap())->DescribeCluster();
  REQUIRE(described.ok());
  REQUIRE(described->brokers.size() == kBrokers);
  for (const BrokerNode& b : described->brokers) {
    CHECK(b.host == "localhost");
    CHECK(b.port == cluster.port(b.node_id));
    CHECK_FALSE(b.fenced);
  }
  const std::string inside = cluster.MustRillctl({"broker", "list"});
  for (int node = 1; node <= kBrokers; ++node) {
    CHECK_THAT(inside, Catch::Contains(fmt::format("rill-{}:9290", node)));
  }
  CHECK_THAT(cluster.MustRillctl({"cluster", "status"}), !Catch::Contains("fenced"));

  // A topic from each side, with three replicas.
  CreateTopicFromHost(cluster, "from-host", 3);
  cluster.MustRillctl({"topic", "create", "from-container", "--partitions", "3", "--replicas", "3"});
  for (const std::string topic : {"from-host", "from-container"}) {
    auto info = AdminOf(cluster.Bootstrap())->DescribeTopic(topic);
    REQUIRE(info.ok());
    REQUIRE(info->partitions.size() == 3);
    for (const auto& p : info->partitions) CHECK(p.replicas.size() == 3);
  }

  // The host writes keyed records with a header; a container reads them all.
  constexpr int kRecords = 300;
  {
    ProducerOptions options;
    options.client.bootstrap_brokers = cluster.Bootstrap();
    auto producer = Producer::Create(options);
    REQUIRE(producer.ok());
    std::atomic<int> acknowledged{0};
    for (int i = 0; i < kRecords; ++i) {
      ProducerRecord record;
      record.topic = "from-host";
      record.key = fmt::format("k{}", i);
      record.value = fmt::format("host-{}", i);
      record.headers.push_back({"origin", std::string("host")});
      REQUIRE((*producer)
                  ->Send(std::move(record),
                         [&acknowledged](const absl::StatusOr<RecordMetadata>& m) {
                           if (m.ok()) ++acknowledged;
                         })
                  .ok());
    }
    (*producer)->Flush();
    REQUIRE(acknowledged == kRecords);
  }
  const auto read_inside = Lines(cluster.MustRillctl(
      {"consume", "from-host", "--from-beginning", "--exit-at-end", "--format", "%k %s %h\\n"}));
  std::set<std::string> expected;
  for (int i = 0; i < kRecords; ++i) expected.insert(fmt::format("k{} host-{} origin=host", i, i));
  CHECK(std::set<std::string>(read_inside.begin(), read_inside.end()) == expected);
  CHECK(read_inside.size() == kRecords);

  // Kafka clients on the host use the published Kafka listeners: kcat is told localhost and
  // those ports, and reads what the SDK wrote with the same keys, values and headers.
  const std::string listed = Must({"kcat", "-b", cluster.KafkaBootstrap(), "-L"});
  for (int node = 1; node <= kBrokers; ++node) {
    CHECK_THAT(listed, Catch::Contains(fmt::format("broker {} at localhost:{}", node,
                                                   cluster.kafka_port(node))));
  }
  const auto read_by_kcat = Lines(Must({"kcat", "-b", cluster.KafkaBootstrap(), "-C", "-t",
                                        "from-host", "-o", "beginning", "-e", "-q", "-f",
                                        "%k %s %h\\n"}));
  CHECK(std::set<std::string>(read_by_kcat.begin(), read_by_kcat.end()) == expected);
  CHECK(read_by_kcat.size() == kRecords);

  // A container writes keyed records; the host reads them all, each in its key's partition.
  std::string input;
  for (int i = 0; i < kRecords; ++i) input += fmt::format("c{}:container-{}\n", i, i);
  cluster.MustRillctl({"produce", "from-container", "--key-delimiter", ":"}, input);
  const auto read_on_host = ConsumeAll(HostClient(cluster), "from-container", 3, kRecords);
  std::map<std::string, std::string> by_key;
  std::map<std::string, int32_t> partition_of_key;
  for (const auto& r : read_on_host) {
    by_key[r.key.value_or("")] = r.value.value_or("");
    partition_of_key[r.key.value_or("")] = r.partition;
  }
  CHECK(read_on_host.size() == kRecords);
  REQUIRE(by_key.size() == kRecords);
  for (int i = 0; i < kRecords; ++i) {
    CHECK(by_key[fmt::format("c{}", i)] == fmt::format("container-{}", i));
    const std::string key = fmt::format("c{}", i);
    CHECK(partition_of_key[key] == format::PartitionForKey(key, 3));
  }

  // `down` keeps the volumes: the same records after `up`.
  cluster.Down(/*volumes=*/false);
  CHECK(Trimmed(cluster.Compose({"ps", "-q"}).output).empty());
  cluster.Up();
  REQUIRE(cluster.WaitHealthy());
  CHECK(ConsumeAll(HostClient(cluster), "from-host", 3, kRecords).size() == kRecords);

  // `down -v` leaves no container, network or volume of the project.
  cluster.Down(/*volumes=*/true);
  const std::string filter = "label=com.docker.compose.project=" + cluster.project();
  CHECK(Trimmed(Must({"docker", "ps", "-aq", "--filter", filter})).empty());
  CHECK(Trimmed(Must({"docker", "network", "ls", "-q", "--filter", filter})).empty());
  CHECK(Trimmed(Must({"docker", "volume", "ls", "-q", "--filter", filter})).empty());
}


// After a fault: every broker healthy again and every partition fully replicated.
void RequireRecovered(ComposeCluster& cluster, const std::string& after) {
  INFO("after " << after);
  REQUIRE(cluster.WaitHealthy());
  REQUIRE(WaitFullyReplicated(cluster.Addresses(), std::chrono::seconds(90)));
}

TEST_CASE(
    "docker: under load, docker kill of a leader's container, pause, a network disconnect and a "
    "rolling restart lose no acknowledged record and duplicate none (idempotent producer)",
    "[docker]") {
  SkipWithoutDocker();
  BuildImage();
  const uint64_t seed = TestSeed();
  std::printf("seed %llu (RILL_TEST_SEED replays it)\n", static_cast<unsigned long long>(seed));
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  auto pick = [&rng] { return static_cast<int>(rng() % kBrokers) + 1; };

  ComposeCluster cluster;
  cluster.Up();
  REQUIRE(cluster.WaitHealthy());
  CreateTopicFromHost(cluster, kCheckedTopic, kCheckedPartitions);
  REQUIRE(WaitFullyReplicated(cluster.Addresses(), std::chrono::seconds(90)));

  HistoryChecker history;
  CheckedProducer producer(cluster.Bootstrap(), &history, Acks::kAll);
  producer.Start(300);
  auto under_load = [&] { std::this_thread::sleep_for(std::chrono::seconds(3)); };
  under_load();

  // SIGKILL of the container leading a partition, then started again.
  const int32_t partition = static_cast<int32_t>(rng() % kCheckedPartitions);
  const int leader = LeaderOf(cluster.Addresses(), partition, std::chrono::seconds(30));
  REQUIRE(leader > 0);
  std::printf("docker kill rill-%d (leader of partition %d)\n", leader, partition);
  cluster.Docker("kill", leader);
  under_load();
  cluster.Docker("start", leader);
  RequireRecovered(cluster, "docker kill");
  under_load();

  // A frozen broker: every process of the container stopped, then thawed.
  const int paused = pick();
  std::printf("docker pause rill-%d\n", paused);
  cluster.Docker("pause", paused);
  CHECK(cluster.Inspect(paused, "{{.State.Status}}") == "paused");
  std::this_thread::sleep_for(std::chrono::seconds(6));
  cluster.Docker("unpause", paused);
  RequireRecovered(cluster, "docker pause");
  under_load();

  // A real network partition: the broker leaves the compose network (and so the host's
  // published ports), then joins again under its service name.
  const int cut = pick();
  std::printf("docker network disconnect rill-%d\n", cut);
  const std::string container = cluster.Container(cut);
  Must({"docker", "network", "disconnect", cluster.network(), container});
  std::this_thread::sleep_for(std::chrono::seconds(8));
  Must({"docker", "network", "connect", "--alias", fmt::format("rill-{}", cut), cluster.network(),
        container});
  RequireRecovered(cluster, "docker network disconnect");
  under_load();

  // A rolling restart: each broker stopped cleanly (SIGTERM) and started, the next one only once
  // the cluster is whole again.
  for (int node = 1; node <= kBrokers; ++node) {
    std::printf("docker restart rill-%d\n", node);
    cluster.Docker("restart", node);
    RequireRecovered(cluster, fmt::format("restarting rill-{}", node));
  }
  under_load();

  producer.Stop();
  REQUIRE(WaitFullyReplicated(cluster.Addresses(), std::chrono::seconds(90)));
  ConsumeAll(cluster.Bootstrap(), &history, "reader");
  const CheckReport report = history.Check();
  std::printf("seed %llu: %s\n", static_cast<unsigned long long>(seed), report.Summary().c_str());
  INFO(report.Summary());
  CHECK(report.acknowledged > 0);
  CHECK(report.ok(/*allow_duplicates=*/false));
  REQUIRE(cluster.WaitHealthy());
  CHECK_THAT(cluster.MustRillctl({"cluster", "status"}), !Catch::Contains("fenced"));
}

}  // namespace
}  // namespace rill::testing

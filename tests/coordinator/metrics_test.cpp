// The metrics registry's text exposition (format 0.0.4), checked by a small parser of that format, and the
// serving metrics' names.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>
#include <thread>

#include "coordinator/metrics/registry.h"
#include "coordinator/metrics/serving_metrics.h"
#include "test_support.h"

namespace mixserve {
namespace {

using metrics::Registry;

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> counter|gauge|histogram
  std::map<std::string, std::string> helps;
  std::vector<Sample> samples;
};

// Parses the text format strictly enough to catch what Prometheus would reject; fails the test otherwise.
Exposition parse(const std::string& text) {
  Exposition e;
  std::istringstream in(text);
  std::string line;
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "the last line must end with a newline";
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty()) << "blank line";
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string rest = line.substr(7);
      const std::string name = rest.substr(0, rest.find(' '));
      EXPECT_FALSE(e.helps.contains(name)) << "two HELP lines for " << name;
      e.helps[name] = rest.substr(name.size() + 1);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream ls(line.substr(7));
      std::string name, type;
      ls >> name >> type;
      EXPECT_FALSE(e.types.contains(name)) << "two TYPE lines for " << name;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << type;
      e.types[name] = type;
      continue;
    }
    EXPECT_NE(line[0], '#') << line;
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name += line[i++];
    for (size_t k = 0; k < s.name.size(); ++k) {
      const char c = s.name[k];
      EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' || (k > 0 && std::isdigit(c)))
          << "bad metric name " << s.name;
    }
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key, value;
        while (i < line.size() && line[i] != '=') key += line[i++];
        EXPECT_EQ(line.substr(i, 2), "=\"") << line;
        i += 2;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            const char next = line[++i];
            EXPECT_TRUE(next == '\\' || next == '"' || next == 'n') << "bad escape in " << line;
            value += next == 'n' ? '\n' : next;
          } else {
            value += line[i];
          }
          ++i;
        }
        ++i;  // closing quote
        EXPECT_FALSE(s.labels.contains(key)) << "label " << key << " twice in " << line;
        s.labels[key] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    EXPECT_EQ(line[i], ' ') << line;
    const std::string value = line.substr(i + 1);
    if (value == "+Inf")
      s.value = INFINITY;
    else if (value == "-Inf")
      s.value = -INFINITY;
    else if (value == "NaN")
      s.value = NAN;
    else {
      size_t used = 0;
      s.value = std::stod(value, &used);
      EXPECT_EQ(used, value.size()) << "trailing text in " << line;
    }
    // Every sample belongs to a family whose TYPE came before it.
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (!e.types.contains(family) && family.size() > sfx.size() &&
          family.compare(family.size() - sfx.size(), sfx.size(), sfx) == 0 &&
          e.types.contains(family.substr(0, family.size() - sfx.size())) &&
          e.types.at(family.substr(0, family.size() - sfx.size())) == "histogram")
        family = family.substr(0, family.size() - sfx.size());
    }
    EXPECT_TRUE(e.types.contains(family)) << "sample " << s.name << " before (or without) its TYPE line";
    EXPECT_TRUE(e.helps.contains(family)) << "no HELP for " << family;
    e.samples.push_back(std::move(s));
  }
  return e;
}

// Histogram checks: per label set, buckets non-decreasing ending in +Inf == _count, and a _sum.
void check_histograms(const Exposition& e) {
  for (const auto& [family, type] : e.types) {
    if (type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    std::map<std::map<std::string, std::string>, double> counts, sums;
    for (const Sample& s : e.samples) {
      auto labels = s.labels;
      if (s.name == family + "_bucket") {
        ASSERT_TRUE(labels.contains("le")) << family;
        const std::string le = labels["le"];
        labels.erase("le");
        buckets[labels].push_back({le == "+Inf" ? INFINITY : std::stod(le), s.value});
      } else if (s.name == family + "_count") {
        counts[labels] = s.value;
      } else if (s.name == family + "_sum") {
        sums[labels] = s.value;
      }
    }
    for (const auto& [labels, b] : buckets) {
      ASSERT_FALSE(b.empty());
      for (size_t i = 1; i < b.size(); ++i) {
        EXPECT_LT(b[i - 1].first, b[i].first) << family << ": bounds not increasing";
        EXPECT_LE(b[i - 1].second, b[i].second) << family << ": buckets not cumulative";
      }
      EXPECT_TRUE(std::isinf(b.back().first)) << family << ": no +Inf bucket";
      ASSERT_TRUE(counts.contains(labels)) << family << ": no _count";
      EXPECT_EQ(b.back().second, counts.at(labels)) << family << ": +Inf bucket != _count";
      EXPECT_TRUE(sums.contains(labels)) << family << ": no _sum";
    }
  }
}

const Sample* find(const Exposition& e, const std::string& name, const std::map<std::string, std::string>& labels) {
  for (const Sample& s : e.samples)
    if (s.name == name && s.labels == labels) return &s;
  return nullptr;
}

TEST(Metrics, CountersAndGaugesRenderWithHelpTypeAndEscapedLabels) {
  Registry r;
  auto& c = r.counter("app:requests_total", "Requests.\nSecond line with a \\ backslash.", {"path", "code"});
  auto& g = r.gauge("app_temperature", "Temperature.", {});
  c.with({"/a\"b\\c\nd", "200"}).inc(3);
  c.with({"/", "500"}).inc();
  g.with({}).set(-1.5);
  const std::string text = r.render();
  const Exposition e = parse(text);
  check_histograms(e);
  EXPECT_EQ(e.types.at("app:requests_total"), "counter");
  EXPECT_EQ(e.types.at("app_temperature"), "gauge");
  EXPECT_EQ(e.helps.at("app:requests_total"), "Requests.\\nSecond line with a \\\\ backslash.");
  const Sample* s = find(e, "app:requests_total", {{"path", "/a\"b\\c\nd"}, {"code", "200"}});
  ASSERT_NE(s, nullptr) << text;
  EXPECT_EQ(s->value, 3);
  EXPECT_NE(text.find("app_temperature -1.5\n"), std::string::npos) << text;
  // HELP comes before TYPE, TYPE before the samples.
  EXPECT_LT(text.find("# HELP app:requests_total"), text.find("# TYPE app:requests_total"));
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  auto rng = test::make_rng(3);
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  Registry r;
  const std::vector<double> bounds = {0.1, 0.5, 1.0};
  auto& family = r.histogram("lat_seconds", "Latency.", {"replica"}, bounds);
  const std::vector<float> values = test::random_uniform(200, rng, 0.0f, 2.0f);
  std::vector<int> expected(bounds.size() + 1, 0);  // cumulative, last is +Inf
  double sum = 0;
  for (float v : values) {
    family.with({"0"}).observe(v);
    sum += v;
    for (size_t i = 0; i < bounds.size(); ++i) expected[i] += v <= bounds[i];
    expected.back() += 1;
  }
  family.with({"0"}).observe(0.5);  // on a bound: counted in le="0.5"
  expected[1] += 1;
  expected[2] += 1;
  expected[3] += 1;
  sum += 0.5;
  family.with({"1"});  // a child with no observations renders zeros
  const Exposition e = parse(r.render());
  check_histograms(e);
  const char* les[] = {"0.1", "0.5", "1", "+Inf"};
  for (size_t i = 0; i < 4; ++i) {
    const Sample* b = find(e, "lat_seconds_bucket", {{"replica", "0"}, {"le", les[i]}});
    ASSERT_NE(b, nullptr) << les[i];
    EXPECT_EQ(b->value, expected[i]) << les[i];
  }
  EXPECT_NEAR(find(e, "lat_seconds_sum", {{"replica", "0"}})->value, sum, 1e-9 * sum);
  EXPECT_EQ(find(e, "lat_seconds_count", {{"replica", "0"}})->value, 201);
  EXPECT_EQ(find(e, "lat_seconds_count", {{"replica", "1"}})->value, 0);
}

TEST(Metrics, ValuesUseShortestRoundTripAndSpecialSpellings) {
  EXPECT_EQ(metrics::format_value(0.1), "0.1");
  EXPECT_EQ(metrics::format_value(1e-7), "1e-07");
  EXPECT_EQ(metrics::format_value(3), "3");
  EXPECT_EQ(metrics::format_value(INFINITY), "+Inf");
  EXPECT_EQ(metrics::format_value(-INFINITY), "-Inf");
  EXPECT_EQ(metrics::format_value(NAN), "NaN");
  const double x = 0.1 + 0.2;
  EXPECT_EQ(std::stod(metrics::format_value(x)), x);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto& c = r.counter("n_total", "N.", {"t"});
  auto& h = r.histogram("h", "H.", {}, {1.0});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c.with({std::to_string(t % 2)}).inc();
        h.with({}).observe(i % 2 == 0 ? 0.5 : 2.0);
        if (i % 1000 == 0) (void)r.render();  // rendering while updating must be safe
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.with({"0"}).value() + c.with({"1"}).value(), 40000);
  const auto snap = h.with({}).snapshot();
  EXPECT_EQ(snap.count, 40000u);
  EXPECT_EQ(snap.cumulative[0], 20000u);
}

// Every family of serving.md, under the mixserve: prefix, with its type and labels.
TEST(Metrics, ServingMetricsHaveTheNamesOfTheDesign) {
  Registry r;
  ServingMetrics m(r);
  ReplicaMetrics rm(m, "tiny", "0");
  rm.generation_tokens_total.inc(5);
  rm.success(FinishReason::length).inc();
  rm.step(StepPhase::execute).observe(0.01);
  m.count_error("tiny", 429);
  m.num_replicas_up.with({"tiny"}).set(1);
  const Exposition e = parse(r.render());
  check_histograms(e);
  const std::map<std::string, std::string> expected = {
      {"num_requests_running", "gauge"},
      {"num_requests_waiting", "gauge"},
      {"kv_cache_usage_perc", "gauge"},
      {"num_replicas_up", "gauge"},
      {"prompt_tokens_total", "counter"},
      {"generation_tokens_total", "counter"},
      {"request_success_total", "counter"},
      {"num_preemptions_total", "counter"},
      {"prefix_cache_queries_total", "counter"},
      {"prefix_cache_hits_total", "counter"},
      {"request_errors_total", "counter"},
      {"time_to_first_token_seconds", "histogram"},
      {"inter_token_latency_seconds", "histogram"},
      {"request_time_per_output_token_seconds", "histogram"},
      {"e2e_request_latency_seconds", "histogram"},
      {"request_queue_time_seconds", "histogram"},
      {"request_prompt_tokens", "histogram"},
      {"request_generation_tokens", "histogram"},
      {"iteration_tokens", "histogram"},
      {"step_duration_seconds", "histogram"},
  };
  EXPECT_EQ(e.types.size(), expected.size());
  for (const auto& [name, type] : expected) {
    ASSERT_TRUE(e.types.contains("mixserve_" + name)) << name;
    EXPECT_EQ(e.types.at("mixserve_" + name), type) << name;
  }
  EXPECT_EQ(find(e, "mixserve_generation_tokens_total", {{"model_name", "tiny"}, {"replica", "0"}})->value, 5);
  EXPECT_EQ(find(e, "mixserve_request_success_total",
                 {{"model_name", "tiny"}, {"replica", "0"}, {"finished_reason", "length"}})
                ->value,
            1);
  EXPECT_EQ(find(e, "mixserve_request_errors_total", {{"model_name", "tiny"}, {"code", "429"}})->value, 1);
  EXPECT_NE(
      find(e, "mixserve_step_duration_seconds_count", {{"model_name", "tiny"}, {"replica", "0"}, {"phase", "execute"}}),
      nullptr);
}

}  // namespace
}  // namespace mixserve

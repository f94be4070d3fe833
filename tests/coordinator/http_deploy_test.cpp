// deploy/ refers to metrics by name: the Grafana dashboard must use exactly the names /metrics serves (every
// family, nothing else) and the alert rules only names that exist, so a rename cannot silently blank a panel.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "coordinator/metrics/registry.h"
#include "coordinator/metrics/serving_metrics.h"
#include "test_support.h"

namespace mixserve::test {
namespace {

// family name -> type, from the registry's "# TYPE name type" lines.
std::map<std::string, std::string> served_families() {
  metrics::Registry registry;
  ServingMetrics metrics(registry);
  std::map<std::string, std::string> families;
  std::istringstream lines(registry.render());
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("# TYPE ")) continue;
    std::istringstream fields(line.substr(7));
    std::string name, type;
    fields >> name >> type;
    families[name] = type;
  }
  return families;
}

// The metric families `text` mentions; a histogram's _bucket/_sum/_count series count as its family.
std::set<std::string> referenced(const std::string& text, const std::map<std::string, std::string>& families) {
  std::set<std::string> names;
  const std::regex pattern("mixserve_[a-zA-Z0-9_]+");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern); it != std::sregex_iterator(); ++it) {
    std::string name = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string base = name.substr(0, name.size() - std::string(suffix).size());
      if (name.ends_with(suffix) && families.count(base) && families.at(base) == "histogram") name = base;
    }
    names.insert(name);
  }
  return names;
}

TEST(HttpDeploy, GrafanaDashboardUsesExactlyTheServedMetricNames) {
  const auto families = served_families();
  ASSERT_EQ(families.size(), 20u);  // serving.md: 4 gauges, 7 counters, 9 histograms
  const std::string text = read_file(std::string(MIXSERVE_SOURCE_DIR) + "/deploy/grafana/mixserve-dashboard.json");
  ASSERT_FALSE(nlohmann::json::parse(text, nullptr, false).is_discarded());
  const auto names = referenced(text, families);
  for (const auto& name : names) EXPECT_TRUE(families.count(name)) << "the dashboard uses unknown " << name;
  for (const auto& [name, type] : families) EXPECT_TRUE(names.count(name)) << "no panel shows " << name;
}

TEST(HttpDeploy, AlertRulesUseServedMetricNames) {
  const auto families = served_families();
  const std::string text = read_file(std::string(MIXSERVE_SOURCE_DIR) + "/deploy/prometheus/alerts.yml");
  const auto names = referenced(text, families);
  EXPECT_GE(names.size(), 6u);
  for (const auto& name : names) EXPECT_TRUE(families.count(name)) << "an alert uses unknown " << name;
}

}  // namespace
}  // namespace mixserve::test

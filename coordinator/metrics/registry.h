#pragma once
// A small Prometheus metrics registry: counter, gauge and histogram families with labels, rendered in the text
// exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/). Written by hand
// because prometheus-cpp is not packaged in Debian 12 (docs/architecture.md).
//
// A family has a name, a help text and fixed label names; family.with({values...}) returns the child for
// those label values, created on first use and alive as long as the registry (so callers may keep the
// reference and update it without any lookup on hot paths).
// Thread-safety: everything here may be called from any thread. Counter and gauge updates are lock-free
// atomics; a histogram observation takes that histogram's own mutex so that render() always sees buckets,
// _sum and _count from the same instant (cumulative buckets end in +Inf == _count).
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mixserve::metrics {

using LabelValues = std::vector<std::string>;  // in the order of the family's label names

class Counter {
 public:
  void inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }  // v >= 0: counters only rise
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: the finite upper bounds, strictly increasing (checked); +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // bounds.size() + 1 entries, the last one is +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is (bounds.back(), +Inf)
  double sum_ = 0;
};

enum class MetricType { counter, gauge, histogram };

// Families share this base so the registry can render them in registration order.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names, MetricType type);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  // Appends this family's "# HELP", "# TYPE" and sample lines.
  void render(std::string& out) const;

 protected:
  virtual void render_children(std::string& out) const = 0;
  // `name{l1="v1",l2="v2"<extra>}` with escaped values; `extra` is e.g. `,le="0.5"` for buckets.
  std::string series(const std::string& suffix, const LabelValues& values, const std::string& extra) const;
  void check_arity(const LabelValues& values) const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const MetricType type_;
  mutable std::mutex mutex_;  // guards the child map of the derived family
};

template <typename Metric>
class Family;

template <>
class Family<Counter> : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), MetricType::counter) {}
  Counter& with(const LabelValues& values);

 private:
  void render_children(std::string& out) const override;
  std::map<LabelValues, std::unique_ptr<Counter>> children_;
};

template <>
class Family<Gauge> : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), MetricType::gauge) {}
  Gauge& with(const LabelValues& values);
  // Drops a child (e.g. a gauge of a replica that no longer exists).
  void remove(const LabelValues& values);

 private:
  void render_children(std::string& out) const override;
  std::map<LabelValues, std::unique_ptr<Gauge>> children_;
};

template <>
class Family<Histogram> : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), MetricType::histogram),
        bounds_(std::move(bounds)) {}
  Histogram& with(const LabelValues& values);

 private:
  void render_children(std::string& out) const override;
  const std::vector<double> bounds_;
  std::map<LabelValues, std::unique_ptr<Histogram>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"
  // ("le" is reserved for histograms); a name registered twice is a bug (checked).
  CounterFamily& counter(const std::string& name, const std::string& help, std::vector<std::string> labels);
  GaugeFamily& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels);
  HistogramFamily& histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                             std::vector<double> bounds);

  // The whole registry as text/plain; version=0.0.4. Families in registration order, children sorted by
  // label values; families with no children still print their HELP and TYPE lines.
  std::string render() const;
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  void add(std::unique_ptr<FamilyBase> family);
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

// Text-format helpers, exposed for tests.
std::string escape_label_value(const std::string& v);  // backslash, double quote, newline
std::string escape_help(const std::string& v);         // backslash, newline
std::string format_value(double v);                    // shortest round-trip; +Inf, -Inf, NaN

// Bucket helpers.
std::vector<double> exponential_buckets(double start, double factor, int count);
std::vector<double> linear_buckets(double start, double width, int count);

}  // namespace mixserve::metrics

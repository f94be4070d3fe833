#include "coordinator/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/check.h"

namespace mixserve::metrics {
namespace {

bool valid_metric_name(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

// A failed registration or a wrong label count is a bug in the caller; the message names the metric.
void require(bool cond, const std::string& what) {
  if (!cond) detail::check_failed(__FILE__, __LINE__, "metrics registry invariant", what);
}

}  // namespace

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // shortest representation that round-trips
  MIXSERVE_CHECK(ec == std::errc());
  return std::string(buf, end);
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  MIXSERVE_CHECK(start > 0 && factor > 1 && count > 0);
  std::vector<double> b(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) b[static_cast<size_t>(i)] = start * std::pow(factor, i);
  return b;
}

std::vector<double> linear_buckets(double start, double width, int count) {
  MIXSERVE_CHECK(width > 0 && count > 0);
  std::vector<double> b(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) b[static_cast<size_t>(i)] = start + width * i;
  return b;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    MIXSERVE_CHECK(std::isfinite(bounds_[i]));
    if (i > 0) MIXSERVE_CHECK(bounds_[i] > bounds_[i - 1]);
  }
}

void Histogram::observe(double v) {
  // Buckets are upper-inclusive: v lands in the first bucket with v <= bound.
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  std::lock_guard lock(mutex_);
  ++counts_[i];
  sum_ += v;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard lock(mutex_);
  s.cumulative.resize(counts_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    s.cumulative[i] = running;
  }
  s.count = running;
  s.sum = sum_;
  return s;
}

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names, MetricType type)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), type_(type) {
  require(valid_metric_name(name_), "bad metric name '" + name_ + "'");
  for (const std::string& l : label_names_) {
    require(valid_label_name(l), "bad label name '" + l + "' in " + name_);
    require(!(type_ == MetricType::histogram && l == "le"), "label 'le' is reserved in " + name_);
  }
}

void FamilyBase::check_arity(const LabelValues& values) const {
  require(values.size() == label_names_.size(), name_ + " takes " + std::to_string(label_names_.size()) +
                                                    " label values, got " + std::to_string(values.size()));
}

std::string FamilyBase::series(const std::string& suffix, const LabelValues& values, const std::string& extra) const {
  std::string s = name_ + suffix;
  if (label_names_.empty() && extra.empty()) return s;
  s += '{';
  for (size_t i = 0; i < label_names_.size(); ++i) {
    if (i > 0) s += ',';
    s += label_names_[i] + "=\"" + escape_label_value(values[i]) + '"';
  }
  if (!extra.empty()) s += label_names_.empty() ? extra.substr(1) : extra;  // extra starts with ','
  s += '}';
  return s;
}

void FamilyBase::render(std::string& out) const {
  out += "# HELP " + name_ + ' ' + escape_help(help_) + '\n';
  out += "# TYPE " + name_ + ' ' + type_name(type_) + '\n';
  std::lock_guard lock(mutex_);
  render_children(out);
}

Counter& Family<Counter>::with(const LabelValues& values) {
  check_arity(values);
  std::lock_guard lock(mutex_);
  auto& child = children_[values];
  if (!child) child = std::make_unique<Counter>();
  return *child;
}

void Family<Counter>::render_children(std::string& out) const {
  for (const auto& [values, c] : children_) out += series("", values, "") + ' ' + format_value(c->value()) + '\n';
}

Gauge& Family<Gauge>::with(const LabelValues& values) {
  check_arity(values);
  std::lock_guard lock(mutex_);
  auto& child = children_[values];
  if (!child) child = std::make_unique<Gauge>();
  return *child;
}

void Family<Gauge>::remove(const LabelValues& values) {
  std::lock_guard lock(mutex_);
  children_.erase(values);
}

void Family<Gauge>::render_children(std::string& out) const {
  for (const auto& [values, g] : children_) out += series("", values, "") + ' ' + format_value(g->value()) + '\n';
}

Histogram& Family<Histogram>::with(const LabelValues& values) {
  check_arity(values);
  std::lock_guard lock(mutex_);
  auto& child = children_[values];
  if (!child) child = std::make_unique<Histogram>(bounds_);
  return *child;
}

void Family<Histogram>::render_children(std::string& out) const {
  for (const auto& [values, h] : children_) {
    const Histogram::Snapshot s = h->snapshot();
    for (size_t i = 0; i < s.cumulative.size(); ++i) {
      const std::string le = i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf";
      out += series("_bucket", values, ",le=\"" + le + '"') + ' ' + std::to_string(s.cumulative[i]) + '\n';
    }
    out += series("_sum", values, "") + ' ' + format_value(s.sum) + '\n';
    out += series("_count", values, "") + ' ' + std::to_string(s.count) + '\n';
  }
}

void Registry::add(std::unique_ptr<FamilyBase> family) {
  std::lock_guard lock(mutex_);
  for (const auto& f : families_)
    require(f->name() != family->name(), "metric " + family->name() + " registered twice");
  families_.push_back(std::move(family));
}

CounterFamily& Registry::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  auto f = std::make_unique<CounterFamily>(name, help, std::move(labels));
  CounterFamily& ref = *f;
  add(std::move(f));
  return ref;
}

GaugeFamily& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  auto f = std::make_unique<GaugeFamily>(name, help, std::move(labels));
  GaugeFamily& ref = *f;
  add(std::move(f));
  return ref;
}

HistogramFamily& Registry::histogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                                     std::vector<double> bounds) {
  auto f = std::make_unique<HistogramFamily>(name, help, std::move(labels), std::move(bounds));
  HistogramFamily& ref = *f;
  add(std::move(f));
  return ref;
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& f : families_) f->render(out);
  return out;
}

}  // namespace mixserve::metrics

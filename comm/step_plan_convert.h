#pragma once
// Conversions between the wire messages (comm/proto/mixserve.proto) and the worker's step structs
// (worker/step_plan.h, header-only: comm depends on no worker library). Field for field; a SamplingParams
// absent on the wire means the struct's defaults, not proto3's zeros.
#include <cstdint>
#include <vector>

#include "comm/proto/mixserve.pb.h"
#include "core/status.h"
#include "worker/step_plan.h"

namespace mixserve {

proto::SamplingParams sampling_to_proto(const cpu::SamplingParams& params);
cpu::SamplingParams sampling_from_proto(const proto::SamplingParams& params);

proto::StepPlan step_plan_to_proto(const StepPlan& plan, uint64_t step_id);
StepPlan step_plan_from_proto(const proto::StepPlan& plan);

proto::StepResult step_result_to_proto(uint64_t step_id, const std::vector<SequenceOutput>& outputs);
proto::StepResult step_error_to_proto(uint64_t step_id, const Status& error);
// The outputs, or the Status the worker reported for the step.
Result<std::vector<SequenceOutput>> step_result_from_proto(const proto::StepResult& result);

// Status <-> (code name, message) as carried in StepResult and Ready; an unknown name decodes as internal.
StatusCode status_code_from_name(const std::string& name);

}  // namespace mixserve

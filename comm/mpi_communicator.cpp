#include "comm/mpi_communicator.h"

#include <climits>
#include <string>

namespace mixserve {

namespace {

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, length);
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  Status all_reduce_sum(float* data, size_t n) override {
    if (n > INT_MAX) return invalid_argument("all_reduce_sum of " + std::to_string(n) + " floats exceeds MPI's count");
    const int rc = MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, comm_);
    if (rc != MPI_SUCCESS) return failed("MPI_Allreduce", rc);
    return {};
  }

  Status all_gather(const float* send, size_t n, float* recv) override {
    if (n > INT_MAX) return invalid_argument("all_gather of " + std::to_string(n) + " floats exceeds MPI's count");
    const int count = static_cast<int>(n);
    // In place when the caller already put its part at its slot of recv.
    const void* source = send == recv + static_cast<size_t>(rank_) * n ? MPI_IN_PLACE : send;
    const int rc = MPI_Allgather(source, count, MPI_FLOAT, recv, count, MPI_FLOAT, comm_);
    if (rc != MPI_SUCCESS) return failed("MPI_Allgather", rc);
    return {};
  }

 private:
  Status failed(const char* what, int rc) const {
    return unavailable(std::string(what) + " on tensor rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
                       " failed: " + mpi_error_text(rc));
  }

  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm) {
  return std::make_unique<MpiCommunicator>(comm);
}

}  // namespace mixserve

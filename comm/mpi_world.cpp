#include "comm/mpi_world.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "comm/mpi_communicator.h"  // first: it configures <mpi.h>
#include "core/log.h"

namespace mixserve {

namespace {

bool g_initialized_here = false;
bool g_finalized = false;

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, length);
}

// Polls a non-blocking operation until it completes or the deadline passes.
Status wait_request(MPI_Request* request, MpiDeadline deadline, const std::string& what) {
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    int done = 0;
    const int rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return unavailable(what + " failed: " + mpi_error_text(rc));
    if (done) return {};
    if (std::chrono::steady_clock::now() >= deadline)
      return unavailable(what + " did not complete before the bootstrap deadline: a rank of the " +
                         std::to_string(mpi_world_size()) + " never reached it");
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(5));
  }
}

void finalize_at_exit() {
  mpi_finalize();
}

}  // namespace

bool launched_by_mpirun() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(name)) return true;
  return false;
}

Status mpi_init(int* argc, char*** argv) {
  if (mpi_initialized()) return {};
  int provided = 0;
  const int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) return unavailable("MPI_Init_thread failed: " + mpi_error_text(rc));
  g_initialized_here = true;
  // A failing MPI call must come back as a Status: the default handler would abort every rank of the job.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_FUNNELED) return unavailable("MPI does not provide MPI_THREAD_FUNNELED");
  std::atexit(finalize_at_exit);
  return {};
}

bool mpi_initialized() {
  int flag = 0;
  MPI_Initialized(&flag);
  return flag != 0;
}

int mpi_world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int mpi_world_size() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

Result<std::vector<std::string>> mpi_exchange_hosts(MpiDeadline deadline) {
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(name, &length);
  const int size = mpi_world_size();
  std::vector<char> all(static_cast<size_t>(size) * MPI_MAX_PROCESSOR_NAME, '\0');
  MPI_Request request;
  const int rc = MPI_Iallgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
                                MPI_COMM_WORLD, &request);
  if (rc != MPI_SUCCESS) return unavailable("host exchange failed: " + mpi_error_text(rc));
  MIXSERVE_RETURN_IF_ERROR(wait_request(&request, deadline, "the host exchange among ranks"));
  std::vector<std::string> hosts(size);
  for (int r = 0; r < size; ++r) {
    const char* p = all.data() + static_cast<size_t>(r) * MPI_MAX_PROCESSOR_NAME;
    hosts[r].assign(p, strnlen(p, MPI_MAX_PROCESSOR_NAME));
  }
  return hosts;
}

Result<std::string> mpi_broadcast_string(const std::string& value, int root, MpiDeadline deadline) {
  constexpr int kMax = 4096;
  if (value.size() >= kMax) return invalid_argument("broadcast value longer than 4 KiB");
  std::vector<char> buffer(kMax, '\0');
  if (mpi_world_rank() == root) std::copy(value.begin(), value.end(), buffer.begin());
  MPI_Request request;
  const int rc = MPI_Ibcast(buffer.data(), kMax, MPI_CHAR, root, MPI_COMM_WORLD, &request);
  if (rc != MPI_SUCCESS) return unavailable("broadcast failed: " + mpi_error_text(rc));
  MIXSERVE_RETURN_IF_ERROR(wait_request(&request, deadline, "the broadcast of the coordinator's address"));
  return std::string(buffer.data(), strnlen(buffer.data(), kMax));
}

Result<std::unique_ptr<Communicator>> mpi_split(int color, int key) {
  MPI_Comm comm = MPI_COMM_NULL;
  const int rc = MPI_Comm_split(MPI_COMM_WORLD, color < 0 ? MPI_UNDEFINED : color, key, &comm);
  if (rc != MPI_SUCCESS) return unavailable("MPI_Comm_split failed: " + mpi_error_text(rc));
  if (comm == MPI_COMM_NULL) return std::unique_ptr<Communicator>();
  return make_mpi_communicator(comm);
}

void mpi_finalize(std::chrono::milliseconds limit, int exit_code_if_stuck) {
  if (!g_initialized_here || g_finalized) return;
  g_finalized = true;
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  std::thread guard([&] {
    std::unique_lock<std::mutex> lock(mutex);
    if (cv.wait_for(lock, limit, [&] { return done; })) return;
    LOG_ERROR("mpi",
              "MPI_Finalize did not return within " << limit.count() << " ms (a rank is gone); exiting without it");
    std::_Exit(exit_code_if_stuck);
  });
  MPI_Finalize();
  {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
  }
  cv.notify_all();
  guard.join();
}

}  // namespace mixserve

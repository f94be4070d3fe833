# Finds nvcc (also at the toolkit's default place, which is often not on PATH) and enables CUDA when present.
# MIXSERVE_CUDA=OFF forces the CPU-only build.
option(MIXSERVE_CUDA "Build the CUDA kernels when nvcc is available" ON)
if(MIXSERVE_CUDA AND NOT CMAKE_CUDA_COMPILER)
  find_program(MIXSERVE_NVCC nvcc HINTS /usr/local/cuda/bin)
  if(MIXSERVE_NVCC)
    set(CMAKE_CUDA_COMPILER ${MIXSERVE_NVCC})
  endif()
endif()
if(MIXSERVE_CUDA AND CMAKE_CUDA_COMPILER)
  enable_language(CUDA)
  # sm_90a for Hopper-only instructions (wgmma, TMA), sm_80 for the portable path.
  set(CMAKE_CUDA_ARCHITECTURES 90a-real 80-real)
  # CMake 3.25 does not know nvcc 13's C++20 dialect ("CUDA20"): CUDA targets call mixserve_cuda_cxx20(), which
  # asks for CUDA 17, and the flag CMake emits for CUDA 17 is replaced by -std=c++20 here. (Passing -std=c++20 as
  # a target option did not work: CMake appends its -std=c++17 after it and nvcc takes the last one, so the
  # kernels were compiled as C++17 until this was found.)
  set(CMAKE_CUDA17_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA17_EXTENSION_COMPILE_OPTION "-std=c++20")
  find_package(CUDAToolkit REQUIRED)
  message(STATUS "mixserve: CUDA ${CMAKE_CUDA_COMPILER_VERSION} enabled (sm_90a, sm_80)")
else()
  set(MIXSERVE_CUDA OFF)
  message(STATUS "mixserve: CUDA disabled; building the CPU path only")
endif()

function(mixserve_cuda_cxx20 target)
  set_target_properties(${target} PROPERTIES CUDA_STANDARD 17)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcudafe=--diag_suppress=esa_on_defaulted_function_ignored>)
endfunction()

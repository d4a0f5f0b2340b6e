# Included by the top-level CMakeLists.txt when MM_SANITIZE has "thread": links
# tsan_absl_mutex_shim.cc (why: see that file) into every executable of the build and routes their
# absl::Mutex calls through it with the linker's --wrap, one per __wrap_ name the file defines.
add_library(mm_tsan_absl_shim OBJECT ${CMAKE_CURRENT_LIST_DIR}/tsan_absl_mutex_shim.cc)
target_link_libraries(mm_tsan_absl_shim PUBLIC absl::synchronization)

set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${CMAKE_CURRENT_LIST_DIR}/tsan_absl_mutex_shim.cc)  # the --wrap list comes from it
file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/tsan_absl_mutex_shim.cc mm_tsan_wrap_lines REGEX "\"__wrap_")
set(mm_tsan_wrap_options "")
foreach(line IN LISTS mm_tsan_wrap_lines)
  string(REGEX MATCH "\"__wrap_([A-Za-z0-9_]+)\"" _ "${line}")
  list(APPEND mm_tsan_wrap_options "-Wl,--wrap=${CMAKE_MATCH_1}")
endforeach()

# mm_tsan_link_shim(<directory>): every executable defined in <directory> and below gets the shim.
function(mm_tsan_link_shim dir)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_link_libraries(${t} PRIVATE mm_tsan_absl_shim)
      target_link_options(${t} PRIVATE ${mm_tsan_wrap_options})
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(d IN LISTS subdirs)
    mm_tsan_link_shim(${d})
  endforeach()
endfunction()

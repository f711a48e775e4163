# Oyster's setup hook for llama.cpp builds (CMAKE_PROJECT_INCLUDE; README "Quick start").
#
# llama.cpp's tools side (the common library, mtmd, llama-server and cpp-httplib) is two thirds of what
# the setup compiles, and none of it is on the decoding path: that is ggml and libllama, which keep
# their -O3. Compiled at -O1 the tools side takes about a third less compile time on a 2-core machine
# (docs/performance.md). -O1 comes after the build type's -O3 on each command line, so it wins.
include_guard(GLOBAL)

function(oyster_llama_tools_at_o1)
    foreach(target IN ITEMS llama-common llama-common-base mtmd server-context llama-server-impl llama-server
                            cpp-httplib)
        if(NOT TARGET ${target})
            continue()
        endif()
        get_target_property(aliased ${target} ALIASED_TARGET)
        get_target_property(kind ${target} TYPE)
        if(aliased OR kind STREQUAL "INTERFACE_LIBRARY")
            continue()
        endif()
        set_property(TARGET ${target} APPEND PROPERTY COMPILE_OPTIONS "$<$<CONFIG:Release>:-O1>")
    endforeach()
endfunction()

# Included at the first project() call, before any target exists: run once the whole tree is read.
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL oyster_llama_tools_at_o1)

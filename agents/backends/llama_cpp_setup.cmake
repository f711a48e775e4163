# Oyster's setup hook for llama.cpp builds, passed as CMAKE_PROJECT_INCLUDE (README "Quick start").
#
# It makes the llama-cpp-python wheel's own compile the only llama.cpp compile of the setup:
# - llama-server is built in the same CMake build as the wheel's libraries, in the same ninja run, so
#   `python -m agents.backends.llama_server --build` only copies it out (no second configure, no source
#   to restore); the other tools stay out of the build;
# - the LoRA -> GGUF converter's Python sources are copied into the build folder at configure time, so
#   `python -m training.gguf` needs no second download of the sdist (its list: training/gguf.py);
# - the tools side (the common library, mtmd, the server, cpp-httplib), two thirds of the compile and
#   none of it on the decoding path, compiles at -O1; ggml and libllama keep the build type's -O3
#   (docs/performance.md has the figures).
include_guard(GLOBAL)

set(LLAMA_BUILD_TOOLS ON CACHE BOOL "llama: build tools (Oyster: for llama-server)" FORCE)
set(LLAMA_BUILD_SERVER ON CACHE BOOL "llama: build server (Oyster)" FORCE)
set(LLAMA_BUILD_UI OFF CACHE BOOL "llama: build the web UI (Oyster: never served)" FORCE)
set(LLAMA_USE_PREBUILT_UI OFF CACHE BOOL "llama: download the web UI (Oyster: nothing is downloaded)" FORCE)
set(LLAMA_BUILD_TESTS OFF CACHE BOOL "llama: build tests" FORCE)
set(LLAMA_BUILD_EXAMPLES OFF CACHE BOOL "llama: build examples" FORCE)

#: what llama-server is made of: built, and at -O1, where the rest of tools/ is left out of the build
set(OYSTER_SERVER_TARGETS llama-server llama-server-impl server-context llama-ui llama-ui-assets mtmd)
set(OYSTER_TOOLS_AT_O1 llama-common llama-common-base cpp-httplib ${OYSTER_SERVER_TARGETS})
#: the converter and what it imports, relative to llama.cpp's root (training/gguf.py: _LLAMA_CPP_FILES)
set(OYSTER_CONVERTER_FILES convert_lora_to_gguf.py convert_hf_to_gguf.py conversion gguf-py)

function(oyster_targets_under directory out)
    get_property(found DIRECTORY "${directory}" PROPERTY BUILDSYSTEM_TARGETS)
    get_property(subdirectories DIRECTORY "${directory}" PROPERTY SUBDIRECTORIES)
    foreach(subdirectory IN LISTS subdirectories)
        oyster_targets_under("${subdirectory}" below)
        list(APPEND found ${below})
    endforeach()
    set(${out} ${found} PARENT_SCOPE)
endfunction()

function(oyster_llama_setup)
    if(NOT TARGET llama)
        return()
    endif()
    get_target_property(llama_sources llama SOURCE_DIR)
    cmake_path(GET llama_sources PARENT_PATH llama_root)

    oyster_targets_under("${llama_root}/tools" tool_targets)
    foreach(target IN LISTS tool_targets)
        if(NOT target IN_LIST OYSTER_SERVER_TARGETS)
            set_property(TARGET ${target} PROPERTY EXCLUDE_FROM_ALL TRUE)
        endif()
    endforeach()

    foreach(target IN LISTS OYSTER_TOOLS_AT_O1)
        if(TARGET ${target})
            get_target_property(kind ${target} TYPE)
            if(NOT kind STREQUAL "INTERFACE_LIBRARY" AND NOT kind STREQUAL "UTILITY")
                set_property(TARGET ${target} APPEND PROPERTY COMPILE_OPTIONS "$<$<CONFIG:Release>:-O1>")
            endif()
        endif()
    endforeach()

    set(converter "${CMAKE_BINARY_DIR}/oyster-llama.cpp-tools")
    file(REMOVE_RECURSE "${converter}")
    foreach(name IN LISTS OYSTER_CONVERTER_FILES)
        if(EXISTS "${llama_root}/${name}")
            file(COPY "${llama_root}/${name}" DESTINATION "${converter}")
        endif()
    endforeach()
endfunction()

# Included at the first project() call, before any target exists: run once the whole tree is read.
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL oyster_llama_setup)

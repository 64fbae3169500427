# cmake -DDIR=<folder> -P fresh_dir.cmake: removes <folder> and creates it empty (the
# local-store integration tests' database folder, see tests/CMakeLists.txt).
file(REMOVE_RECURSE "${DIR}")
file(MAKE_DIRECTORY "${DIR}")

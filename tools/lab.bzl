"""The lab convention: one macro call per lab folder.

A lab `L` is three folders, each with one macro call in its BUILD file:

  labs/L/BUILD            ipc_lab(name = "L", ...)
      :contract           the header L.h (the contract) and its deps, no code
      :given              plumbing the lab hands out ready-made (given_srcs: move operations,
                          destructors, small helpers that are not the lesson); compiled against
                          the contract and linked by both the student library and the reference.
                          Empty when the lab has none. Not student-owned: the grader always takes
                          it from the pristine tree.
      :L                  the student library: the contract plus the student-owned sources
      :test_util          helpers shared by the public and the hidden tests (test_util_srcs,
                          test_util_hdrs: fixtures, child helpers, capture classes), compiled
                          against the contract; testonly. Empty when the lab has none.
      :public_tests       L_test.cc compiled against the contract only (linked by every variant)
      :<program>          each program the tests exec, linked with the student library
      :L_test             the public tests against the student library; tagged manual, so that
                          `bazel test //...` stays green while the skeleton is unimplemented

  solutions/L/BUILD       ipc_lab_reference(lab = "L", ...)
      :L                  the reference library: the same contract, the reference sources
      :<program>          the same programs, linked with the reference
      :L_test             the public tests against the reference (not manual: CI runs it)

  grader/hidden/L/BUILD   ipc_lab_hidden_tests(lab = "L", ...)
      :hidden_tests       the hidden tests compiled against the contract (and //labs/L:test_util)
      :student/L_hidden_test    + student/<program>    (manual)
      :reference/L_hidden_test  + reference/<program>  (not manual)

Test sources and program sources compile against the contract alone and are linked once per
implementation, so the student and the reference builds run exactly the same test code. A test
finds the programs it execs beside its own binary (common/testing/programs.h): each variant's
programs are built into the directory of the test that uses them.

labs/ never refers to solutions/ or grader/hidden/, so the student release (this tree without
them) still loads and builds.
"""

_TEST_DEPS = [
    "//common/testing:test_main",
    "@system_libs//:gmock",
]

def _binaries_and_test(prefix, lab_lib, programs, program_libs, test_name, test_libs, tags, size, timeout, extra_test_deps, data):
    """Links each program and the test against one implementation of the contract."""
    program_targets = []
    for program in programs:
        native.cc_binary(
            name = prefix + program,
            deps = [program_libs[program], lab_lib],
            tags = tags,
            testonly = True,
            linkstatic = True,
        )
        program_targets.append(":" + prefix + program)
    kwargs = {}
    if timeout:
        kwargs["timeout"] = timeout
    native.cc_test(
        name = prefix + test_name,
        deps = test_libs + [lab_lib] + _TEST_DEPS + extra_test_deps,
        data = program_targets + data,
        tags = tags + ["ipc_lab"],
        size = size,
        # Static: the grader's verdict channel is taken by a constructor that must run before any
        # student static initializer (common/testing/test_main.cc), and a case starts faster.
        linkstatic = True,
        **kwargs
    )

def ipc_lab(
        name,
        srcs,
        hdrs = None,
        deps = [],
        programs = [],
        test_deps = [],
        test_data = [],
        test_size = "small",
        test_timeout = None,
        extra_libs = {},
        given_srcs = [],
        test_util_srcs = [],
        test_util_hdrs = [],
        test_tags = []):
    """The student side of lab `name` (in labs/<name>/BUILD).

    Args:
      name: the lab's folder name.
      srcs: the student-owned sources (what lab.json lists as student files that are C++).
      hdrs: the contract headers; default [name + ".h"].
      deps: what the contract and its implementations depend on (//common, system libraries).
      programs: names of programs the tests exec; each is built from <program>.cc, which
        compiles against the contract and is linked with each implementation.
      test_deps: extra dependencies of the test sources (e.g. "@system_libs//:absl_flags").
      test_data: extra data files the tests read.
      test_size: the tests' Bazel size.
      test_timeout: the tests' Bazel timeout, if not the size's default.
      test_tags: extra tags of the test targets: "exclusive" for tests that measure time, so that
        Bazel runs them with no other test beside them.
      extra_libs: name -> dict of cc_library kwargs for code the lab ships that is not the
        student's (a baseline, a deliberately broken example); it is compiled against the contract.
      given_srcs: sources of the `:given` library (e.g. [name + "_given.cc"]): the plumbing that
        the skeleton and the reference share, so that each of them holds only the student's
        functions. Linked into both implementations; never listed in lab.json's student_files.
      test_util_srcs: sources of the `:test_util` library (e.g. [name + "_test_util.cc"]): the
        helpers the public and the hidden tests share. Both test libraries depend on it.
      test_util_hdrs: headers of `:test_util` (e.g. [name + "_test_util.h"]).
    """
    hdrs = hdrs or [name + ".h"]
    native.exports_files(srcs + hdrs, visibility = ["//visibility:public"])
    native.cc_library(
        name = "contract",
        hdrs = hdrs,
        deps = deps,
        visibility = ["//visibility:public"],
    )
    # Always made (empty without given_srcs), so that ipc_lab_reference can depend on it
    # without being told whether the lab has any.
    native.cc_library(
        name = "given",
        srcs = given_srcs,
        deps = [":contract"] + deps,
        visibility = ["//visibility:public"],
    )
    native.cc_library(
        name = name,
        srcs = srcs,
        deps = [":contract", ":given"] + deps,
        visibility = ["//visibility:public"],
    )
    # Always made (empty without test_util_srcs/hdrs), so that ipc_lab_hidden_tests can depend on
    # it without being told whether the lab has any.
    native.cc_library(
        name = "test_util",
        srcs = test_util_srcs,
        hdrs = test_util_hdrs,
        deps = [":contract", "//common/testing"] + _TEST_DEPS + test_deps,
        testonly = True,
        visibility = ["//visibility:public"],
    )
    for lib_name, kwargs in extra_libs.items():
        native.cc_library(
            name = lib_name,
            visibility = ["//visibility:public"],
            **kwargs
        )
    native.cc_library(
        name = "public_tests",
        srcs = [name + "_test.cc"],
        deps = [":contract", ":test_util", "//common/testing"] + _TEST_DEPS + test_deps,
        testonly = True,
        alwayslink = True,
        visibility = ["//visibility:public"],
    )
    program_libs = {}
    for program in programs:
        native.cc_library(
            name = program + "_main",
            srcs = [program + ".cc"],
            deps = [":contract", "@system_libs//:absl_flags", "@system_libs//:absl_strings"] + test_deps,
            testonly = True,
            visibility = ["//visibility:public"],
        )
        program_libs[program] = ":" + program + "_main"
    _binaries_and_test(
        prefix = "",
        lab_lib = ":" + name,
        programs = programs,
        program_libs = program_libs,
        test_name = name + "_test",
        test_libs = [":public_tests"],
        tags = ["manual", "student"] + test_tags,
        size = test_size,
        timeout = test_timeout,
        extra_test_deps = [],
        data = test_data,
    )

def ipc_lab_reference(lab, srcs, deps = [], programs = [], test_data = [], test_size = "small", test_timeout = None, test_tags = []):
    """The reference solution of `lab` (in solutions/<lab>/BUILD).

    Args:
      lab: the lab's folder name.
      srcs: the reference sources, with the same names as the student-owned files.
      deps: what the reference needs beyond the contract's deps.
      programs: the lab's programs (the same list as in labs/<lab>/BUILD).
      test_data: the same as in labs/<lab>/BUILD.
      test_size: the same as in labs/<lab>/BUILD.
      test_timeout: the same as in labs/<lab>/BUILD.
      test_tags: the same as in labs/<lab>/BUILD.
    """
    pkg = "//labs/" + lab
    native.cc_library(
        name = lab,
        srcs = srcs,
        deps = [pkg + ":contract", pkg + ":given"] + deps,
        visibility = ["//visibility:public"],
    )
    _binaries_and_test(
        prefix = "",
        lab_lib = ":" + lab,
        programs = programs,
        program_libs = {p: pkg + ":" + p + "_main" for p in programs},
        test_name = lab + "_test",
        test_libs = [pkg + ":public_tests"],
        tags = ["reference"] + test_tags,
        size = test_size,
        timeout = test_timeout,
        extra_test_deps = [],
        data = [pkg + ":" + d if d.startswith(":") else d for d in test_data],
    )

def ipc_lab_hidden_tests(lab, srcs, programs = [], test_deps = [], test_data = [], test_size = "small", test_timeout = None, test_tags = []):
    """The hidden tests of `lab` (in grader/hidden/<lab>/BUILD), built against both libraries.

    Args:
      lab: the lab's folder name.
      srcs: the hidden test sources; they compile against the contract only.
      programs: the lab's programs these tests exec (from labs/<lab>).
      test_deps: extra dependencies of the hidden test sources.
      test_data: extra data files the tests read.
      test_size: the tests' Bazel size.
      test_timeout: the tests' Bazel timeout, if not the size's default.
      test_tags: extra tags of the test targets (e.g. "exclusive" for tests that measure time).
    """
    pkg = "//labs/" + lab
    native.cc_library(
        name = "hidden_tests",
        srcs = srcs,
        deps = [pkg + ":contract", pkg + ":test_util", "//common/testing"] + _TEST_DEPS + test_deps,
        testonly = True,
        alwayslink = True,
    )
    for prefix, lab_lib, tags in [
        ("student/", pkg + ":" + lab, ["manual", "student"]),
        ("reference/", "//solutions/" + lab + ":" + lab, ["reference"]),
    ]:
        _binaries_and_test(
            prefix = prefix,
            lab_lib = lab_lib,
            programs = programs,
            program_libs = {p: pkg + ":" + p + "_main" for p in programs},
            test_name = lab + "_hidden_test",
            test_libs = [":hidden_tests"],
            tags = tags + ["hidden"] + test_tags,
            size = test_size,
            timeout = test_timeout,
            extra_test_deps = [],
            data = test_data,
        )

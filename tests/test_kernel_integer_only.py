"""The kernel side must be integer-only (no FPU in the kernel)."""

import ast
import pathlib

import pytest

KERNEL = pathlib.Path(__file__).resolve().parents[1] / "kernelml" / "kernel"


def float_uses(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, (float, complex)):
            found.append(f"{path}:{line}: float literal {node.value!r}")
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.Div):
            found.append(f"{path}:{line}: true division")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
            found.append(f"{path}:{line}: float()")
        elif isinstance(node, ast.Import) and any(a.name in ("math", "cmath", "statistics") for a in node.names):
            found.append(f"{path}:{line}: import of a float library")
        elif isinstance(node, ast.ImportFrom) and node.module in ("math", "cmath", "statistics"):
            found.append(f"{path}:{line}: import from a float library")
        elif isinstance(node, ast.Attribute) and node.attr in ("float64", "float32", "float16", "true_divide"):
            found.append(f"{path}:{line}: numpy float use ({node.attr})")
    return found


def kernel_files():
    return sorted(KERNEL.rglob("*.py"))


def test_kernel_tree_exists():
    assert len(kernel_files()) > 5


@pytest.mark.parametrize("path", kernel_files(), ids=lambda p: str(p.relative_to(KERNEL)))
def test_integer_only(path):
    assert float_uses(path) == []


def test_checker_catches_floats(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import math\nx = 1.5\ny = 3 / 2\nz = float(3)\nimport numpy as np\nw = np.float64(1)\n")
    kinds = " ".join(float_uses(bad))
    for what in ("float literal", "true division", "float()", "float library", "numpy float"):
        assert what in kinds

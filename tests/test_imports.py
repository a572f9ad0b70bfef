"""The light parts of the package import without TensorFlow (evaluation, report, data)."""

import subprocess
import sys


def test_evaluation_report_and_data_import_without_tensorflow():
    script = (
        "import sys\n"
        "import ssb_vae, ssb_vae.evaluation, ssb_vae.report, ssb_vae.rescoring, ssb_vae.protocols, ssb_vae.data, ssb_vae.results, ssb_vae.codes\n"
        "from ssb_vae import evaluate\n"
        "loaded = [name for name in ('tensorflow', 'keras') if name in sys.modules]\n"
        "assert not loaded, loaded\n"
        "ssb_vae.build_model  # a model name loads Keras on first use\n"
        "assert 'keras' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

# Windows build of the one-folder bundle (same spec as Linux: packaging/msc-sle-crf.spec). NOT built or run in CI
# (Linux only); written for a Windows 10/11 x64 machine with Python 3.11+:
#   py -3.11 -m venv .venv ; .venv\Scripts\pip install -e ".[bundle]" ; powershell -File packaging\build.ps1
# Result: dist\msc-sle-crf\msc-sle-crf.exe (+ _internal\). Check it: dist\msc-sle-crf\msc-sle-crf.exe selfcheck
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
$py = if ($env:PYTHON) { $env:PYTHON } else { ".venv\Scripts\python.exe" }
& $py -c "import PyInstaller" 2>$null
if ($LASTEXITCODE -ne 0) { & $py -m pip install -q -e ".[bundle]" }
$version = & $py -c "import msc_sle_crf; print(msc_sle_crf.__version__)"
$started = Get-Date
& $py -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build\pyinstaller packaging\msc-sle-crf.spec
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Set-Content -Path dist\msc-sle-crf\VERSION -Value $version
Compress-Archive -Force -Path dist\msc-sle-crf -DestinationPath "dist\msc-sle-crf-$version-windows-x64.zip"
& dist\msc-sle-crf\msc-sle-crf.exe selfcheck
$took = [int]((Get-Date) - $started).TotalSeconds
Write-Output "bundle: dist\msc-sle-crf ($took s); archive: dist\msc-sle-crf-$version-windows-x64.zip"
